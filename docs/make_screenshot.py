"""Make ``docs/digest.png``, the README's picture of the HTML digest page.

It writes the page exactly as the README says (``paper-agent run examples/ -o today.html``,
offline backend, a throw-away cache) and photographs it with the same headless chromium the
browser test drives (``tests/browser.py``): Debian's ``chromium`` and ``chromium-driver``, no
downloads. Run from the repository root::

    python docs/make_screenshot.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import browser  # noqa: E402  (tests/browser.py: the one way this project starts chromium)


def main() -> None:
    reason = browser.missing()
    if reason:
        sys.exit(f"cannot take the screenshot: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "today.html"
        env = {**os.environ, "PAPER_AGENT_CACHE_DIR": str(Path(tmp) / "cache")}
        env.pop("OPENAI_API_KEY", None)
        env.pop("OPENAI_BASE_URL", None)
        cmd = [sys.executable, "-m", "agent.cli", "run", str(ROOT / "examples"), "-o", str(page)]
        subprocess.run(cmd, check=True, env=env, cwd=tmp, capture_output=True)
        driver = browser.start(width=1100, height=1400)
        try:
            driver.get(page.as_uri())
            driver.find_element("id", "search").send_keys("recommendation")  # show the controls at work
            driver.save_screenshot(str(ROOT / "docs" / "digest.png"))
        finally:
            driver.quit()
    print("wrote docs/digest.png")


if __name__ == "__main__":
    main()
