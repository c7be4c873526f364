"""A headless Debian chromium driven by selenium, for the HTML page test and the README screenshot.

Only the system's ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` are used (``.ci/run``
installs them with apt): selenium-manager is never asked to download a browser or a driver,
so nothing here touches the network.
"""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def missing() -> str | None:
    """Why a browser test cannot run here, or None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists() and not shutil.which(Path(path).name):
            return f"{path} is absent (apt-get install chromium chromium-driver; .ci/run does this)"
    return None


def start(width: int = 1200, height: int = 900, javascript: bool = True):  # noqa: ANN201 - a selenium WebDriver
    """A headless chromium; ``javascript=False`` turns scripts off (the page must still read)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else str(shutil.which("chromedriver"))
    return webdriver.Chrome(service=Service(driver_path), options=options)
