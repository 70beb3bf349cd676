"""Browser tests of the Netra web UI (issue 8): headless Chromium driven by Selenium against a real stack.

scripts/lib/browser.sh starts the stack and sets the environment:
  NETRA_BROWSER_BASE_URL      the gateway, e.g. http://127.0.0.1:28180
  NETRA_BROWSER_ADMIN_TOKEN   the operator admin token (NETRA_ADMIN_TOKEN)
  NETRA_BROWSER_EMAIL / NETRA_BROWSER_PASSWORD   a tenant admin user
  NETRA_BROWSER_SCREENSHOTS   where screenshots go (default .data/screenshots)

Every wait is an explicit condition with a timeout (WebDriverWait), also when polling the REST API.
"""
import base64
import json
import os
import sys
import time
import unittest
import urllib.error
import urllib.request
import uuid
from datetime import datetime

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE_URL = os.environ.get("NETRA_BROWSER_BASE_URL", "http://127.0.0.1:28180").rstrip("/")
ADMIN_TOKEN = os.environ.get("NETRA_BROWSER_ADMIN_TOKEN", "")
EMAIL = os.environ.get("NETRA_BROWSER_EMAIL", "")
PASSWORD = os.environ.get("NETRA_BROWSER_PASSWORD", "")
SCREENSHOTS = os.environ.get("NETRA_BROWSER_SCREENSHOTS", os.path.join(".data", "screenshots"))

STAGES = ["triage", "data", "optimizations", "actions", "reporting"]
MESSAGE = "Optimize my AI workload costs"
# Timeouts in seconds (a debug build on two cores is slow; these are upper bounds, not delays).
PAGE_TIMEOUT = 20
RUN_TIMEOUT = 120
GENERATION_TIMEOUT = 300
# Workload size for the tests that need a run to last long enough to act on it mid-run.
SLOW_RUN_EVENTS = int(os.environ.get("NETRA_BROWSER_SLOW_RUN_EVENTS", "200000"))


def log(text):
    print(f"    [browser] {text}", file=sys.stderr, flush=True)


# ---------- REST (urllib) ----------

class HTTPFailure(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def rest(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE_URL + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        raise HTTPFailure(error.code, error.read().decode(errors="replace")) from None
    return json.loads(text) if text else None


_user_token = None


def user_token():
    global _user_token
    if _user_token is None:
        _user_token = rest("POST", "/api/auth/login", {"email": EMAIL, "password": PASSWORD})["access_token"]
    return _user_token


class Wait(WebDriverWait):
    """WebDriverWait whose timeout is a test failure with a message (a string, or a function called on timeout)."""

    def __init__(self, driver, timeout, interval=0.1):
        super().__init__(driver, timeout, poll_frequency=interval,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))

    def until(self, method, message=""):
        try:
            return super().until(method)
        except TimeoutException:
            text = message() if callable(message) else message
            raise AssertionError(f"{text or 'condition not met'} (waited {self._timeout:g} s)") from None


def poll(condition, timeout, message, interval=0.25):
    """Waits until condition() returns a truthy value (an explicit wait without a browser) and returns it."""
    return Wait(None, timeout, interval).until(lambda _: condition(), message)


def run_status(run_id):
    return rest("GET", f"/api/agent/status/{run_id}", token=user_token())


def thread_id_by_title(title):
    threads = rest("GET", "/api/threads?limit=200", token=user_token())["threads"]
    return next((t["id"] for t in threads if t["title"] == title), None)


def latest_run_of_thread(thread_id):
    runs = rest("GET", "/api/agent/history?limit=50", token=user_token())["runs"]
    return next((r for r in runs if r["thread_id"] == thread_id), None)


def expected_tool_lines(run_id):
    """The tool lines the page shows for a run: one per tool_call / tool_result event, as app.js words them."""
    events = rest("GET", f"/api/agent/runs/{run_id}/events?after=0", token=user_token())["events"]
    lines = []
    for event in events:
        data, metadata = event.get("data") or {}, event.get("metadata") or {}
        if event["type"] == "tool_call":
            lines.append(f"{metadata.get('agent_name') or 'agent'} → {data.get('tool')}")
        elif event["type"] == "tool_result":
            lines.append(f"{data.get('tool')}: {data.get('summary') or 'done'}")
    return lines


def run_seconds(status):
    """How long a finished run took from creation to its end, and from start to end."""
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))
    created, started, finished = (parse(status[k]) for k in ("created_at", "started_at", "finished_at"))
    return (finished - created).total_seconds(), (finished - started).total_seconds()


def ensure_workload(events):
    """Gives the test tenant at least `events` workload events, through generation jobs over REST."""
    have = rest("GET", "/api/workloads/summary", token=user_token())["events"]
    if have >= events:
        return have
    started = time.monotonic()
    job = rest("POST", "/api/generation/start", {"events": events - have, "days": 28, "seed": 7}, token=user_token())["job_id"]
    final = poll(lambda: (lambda s: s if s["status"] in ("succeeded", "failed", "cancelled", "dead") else None)(
        rest("GET", f"/api/generation/status/{job}", token=user_token())), GENERATION_TIMEOUT, "the generation job did not end")
    if final["status"] != "succeeded":
        raise AssertionError(f"generating the workload failed: {final}")
    have = rest("GET", "/api/workloads/summary", token=user_token())["events"]
    log(f"workload now {have} events (generation took {time.monotonic() - started:.1f} s)")
    return have


# ---------- Browser ----------

def make_driver(width, height, phone=False):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 3.0, "touch": True}})
    else:
        options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    if not phone:
        # Make the viewport (not the window) the asked size: add what the browser's frame takes.
        driver.get("about:blank")
        inner_w, inner_h = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        driver.set_window_size(width + (width - inner_w), height + (height - inner_h))
        viewport = driver.execute_script("return [window.innerWidth, window.innerHeight]")
        if viewport != [width, height]:
            driver.quit()
            raise RuntimeError(f"the browser's viewport is {viewport}, not {[width, height]}")
    return driver


class BrowserTest(unittest.TestCase):
    """A fresh browser per test; console errors fail the test; a screenshot is kept when a test fails."""

    width, height, phone = 1280, 800, False

    def setUp(self):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        self.driver = make_driver(self.width, self.height, self.phone)
        self.allowed_console = []  # substrings of SEVERE messages a test expects

    def tearDown(self):
        driver = self.driver
        try:
            if self._failed():
                self.screenshot(f"failed-{self._testMethodName}.png")
            entries = driver.get_log("browser")
        finally:
            driver.quit()
        severe = [e for e in entries if e.get("level") == "SEVERE"
                  and "favicon.ico" not in e.get("message", "")
                  and not any(allowed in e.get("message", "") for allowed in self.allowed_console)]
        self.assertEqual(severe, [], "the browser console has SEVERE entries")

    def _failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is None:
            return False
        return any(test is self for test, _ in list(result.failures) + list(result.errors))

    # ----- helpers -----

    def wait(self, timeout=PAGE_TIMEOUT):
        return Wait(self.driver, timeout)

    def screenshot(self, name, full_page=False):
        path = os.path.join(SCREENSHOTS, name)
        if full_page:
            width, height = self.js("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
            with open(path, "wb") as file:
                file.write(base64.b64decode(shot["data"]))
        else:
            self.driver.save_screenshot(path)
        log(f"screenshot {path}")

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def clipped(self):
        """Visible buttons whose label does not fit in them (but for titles shortened with "…"), and whether the sidebar
        overflows sideways."""
        return self.js("""
            const clipped = [...document.querySelectorAll('button')]
              .filter(b => b.offsetParent !== null && b.scrollWidth > b.clientWidth + 1
                           && getComputedStyle(b).textOverflow !== 'ellipsis')  // titles end in "…" on purpose
              .map(b => `${b.id || b.textContent.trim()}: ${b.scrollWidth} px of label in ${b.clientWidth} px`);
            const s = document.getElementById('sidebar');
            if (s.scrollWidth > s.clientWidth) clipped.push(`sidebar: ${s.scrollWidth} px of content in ${s.clientWidth} px`);
            return clipped;""")

    def login(self):
        self.driver.get(BASE_URL + "/")
        self.wait().until(EC.visibility_of_element_located((By.ID, "login-form")), "the login form did not appear")
        self.find("#login-email").send_keys(EMAIL)
        self.find("#login-password").send_keys(PASSWORD)
        self.find("#login-form button[type=submit]").click()
        self.wait_connected()

    def wait_connected(self):
        self.wait().until(EC.visibility_of_element_located((By.ID, "app-view")), "the chat page did not appear after signing in")
        self.wait().until(EC.text_to_be_present_in_element_attribute((By.ID, "conn-banner"), "data-state", "connected"),
                          "the WebSocket did not connect")
        self.wait().until(EC.element_to_be_clickable((By.ID, "send")), "Send stayed disabled")

    def create_thread(self, title):
        field = self.find("#new-thread-title")
        field.clear()
        field.send_keys(title)
        self.find("#new-thread-form button[type=submit]").click()
        self.wait().until(EC.text_to_be_present_in_element((By.ID, "thread-title"), title), "the new thread was not selected")
        self.wait().until(lambda d: d.execute_script(
            "const b = document.querySelector('#thread-list li.current .thread-title'); return b && b.textContent === arguments[0];", title),
            "the new thread is not the current one in the sidebar")
        self.wait().until(lambda d: d.execute_script("return document.querySelectorAll('#messages > li').length === 0"),
                          "a new thread should show no messages")
        thread_id = thread_id_by_title(title)
        self.assertIsNotNone(thread_id, "the thread does not exist in the API")
        return thread_id

    def send_with_enter(self, text):
        box = self.find("#composer-input")
        box.click()
        box.send_keys(text)
        box.send_keys(Keys.ENTER)
        self.wait().until(lambda d: d.execute_script(
            "const m = document.querySelectorAll('#messages li.msg.user .plain'); return m.length && m[m.length - 1].textContent === arguments[0];", text),
            "the sent message did not appear")
        self.assertEqual(box.get_attribute("value"), "", "the message box should be empty after sending")

    def stages(self):
        """[(name, status)] of the sub-agent status rows."""
        return [tuple(row) for row in self.js(
            "return Array.from(document.querySelectorAll('#agent-stages > li')).map(li => "
            "[li.querySelector('.stage-name').textContent, li.querySelector('.stage-status').textContent]);")]

    def wait_agent_started(self):
        self.wait(RUN_TIMEOUT).until(lambda d: len(self.stages()) == len(STAGES), "the sub-agent rows did not appear")

    def wait_all_done(self, timeout=RUN_TIMEOUT):
        self.wait(timeout).until(lambda d: self.stages() == [(name, "done") for name in STAGES],
                                 lambda: f"not every sub-agent ended done: {self.stages()}")

    def wait_run_for_thread(self, thread_id):
        return poll(lambda: latest_run_of_thread(thread_id), PAGE_TIMEOUT, "no run was created for the thread")

    def report_box(self):
        return self.wait(RUN_TIMEOUT).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, "#messages li.msg.assistant .markdown")), "no report was rendered")

    def tool_lines(self):
        return self.js("return Array.from(document.querySelectorAll('#messages details.tool > summary')).map(s => s.textContent)")


class BrowserTests(BrowserTest):

    def test_1_login_thread_demo_data_and_a_run_to_the_report(self):
        self.login()
        title = f"Costs {uuid.uuid4().hex[:8]}"
        thread_id = self.create_thread(title)

        # Demo data: the button starts a generation job and a progress bar follows it to 100 %.
        self.find("#demo-button").click()
        self.wait().until(lambda d: not d.find_element(By.ID, "demo-button").is_enabled()
                          or d.find_element(By.ID, "demo-result").text, "the demo button did nothing")
        self.wait(GENERATION_TIMEOUT).until(
            lambda d: d.find_element(By.ID, "demo-button").is_enabled() and d.find_element(By.ID, "demo-result").text.startswith("succeeded"),
            lambda: "demo data generation did not succeed: " + self.find("#demo-result").text)
        self.assertEqual(self.find("#demo-progress").get_attribute("value"), "100")
        self.assertIn("(100%)", self.find("#demo-result").text)

        # Enter sends.
        self.send_with_enter(MESSAGE)
        self.wait(RUN_TIMEOUT).until(EC.visibility_of_element_located((By.ID, "agent-panel")), "the sub-agent panel stayed hidden")
        self.wait(RUN_TIMEOUT).until(lambda d: any(status == "thinking" for _, status in self.stages())
                                     or d.find_elements(By.CSS_SELECTOR, "#messages .run-result > *"),
                                     lambda: f"no sub-agent was seen thinking and the run did not end: {self.stages()}")
        mid_run = self.stages()
        self.screenshot("chat-mid-run.png")
        if not any(status == "thinking" for _, status in mid_run):
            log(f"the run ended before a sub-agent was seen thinking: {mid_run}")

        self.wait_all_done()
        report = self.report_box()
        self.wait().until(lambda d: report.find_elements(By.XPATH, "ancestor::li[1]//div[contains(@class,'charts')]//*[local-name()='svg']"),
                          "no SVG chart next to the report")
        self.assertTrue(self.find("#stop").get_attribute("disabled"), "Stop should be disabled after the run")
        self.assertFalse(self.find("#thinking").is_displayed(), "the thinking line should be hidden after the run")
        self.screenshot("chat-report.png")
        self.assertEqual(self.clipped(), [], "labels are cut off")

        headings = report.find_elements(By.CSS_SELECTOR, "h3")
        self.assertTrue(headings and headings[0].text.startswith("Netra optimization report"), "the report heading is missing")
        self.assertTrue(report.find_elements(By.CSS_SELECTOR, "table thead th"), "the report has no table")
        self.assertTrue(report.find_elements(By.CSS_SELECTOR, "table tbody tr"), "the report table has no rows")
        charts = self.driver.find_elements(By.CSS_SELECTOR, "#messages li.msg.assistant .charts svg.chart")
        self.assertTrue(charts, "no inline SVG chart")
        self.assertTrue(charts[0].find_elements(By.CSS_SELECTOR, "rect.chart-bar"), "the chart has no bars")
        # One tool line per tool_call / tool_result event.
        run = latest_run_of_thread(thread_id)
        status = run_status(run["run_id"])
        self.assertEqual(status["status"], "succeeded")
        self.assertEqual(self.tool_lines(), expected_tool_lines(run["run_id"]), "one tool line per tool event, in order")
        total, running = run_seconds(status)
        log(f"run duration with {rest('GET', '/api/workloads/summary', token=user_token())['events']} events: "
            f"{total:.2f} s from submission, {running:.2f} s from start")

    def test_2_reload_mid_run_continues_to_the_report(self):
        ensure_workload(SLOW_RUN_EVENTS)
        self.login()
        thread_id = self.create_thread(f"Reload {uuid.uuid4().hex[:8]}")
        self.send_with_enter(MESSAGE)
        self.wait_agent_started()
        self.wait(RUN_TIMEOUT).until(lambda d: any(status == "done" for _, status in self.stages()),
                                     "no sub-agent finished")
        run_id = self.wait_run_for_thread(thread_id)["run_id"]
        before = run_status(run_id)
        if before["status"] not in ("queued", "running"):
            self.fail(f"the run ended ({before['status']}) before the page could be reloaded; runs are too fast for this test "
                      f"(raise NETRA_BROWSER_SLOW_RUN_EVENTS)")
        log(f"reloading mid-run; stages on the page: {self.stages()}")
        reloaded_at = time.monotonic()
        self.driver.refresh()
        try:
            self.wait_connected()
            log(f"reload to connected WebSocket: {time.monotonic() - reloaded_at:.2f} s; "
                f"the run was then {run_status(run_id)['status']}")
            self.assertIsNotNone(self.js("return sessionStorage.getItem('netra.token')"), "the token was not kept")
            self.wait().until(EC.text_to_be_present_in_element((By.ID, "thread-title"), "Reload "), "the thread was not reopened")
            # The page must show the same run going on, then its report.
            self.wait().until(EC.visibility_of_element_located((By.ID, "agent-panel")),
                              "after the reload the sub-agent panel stays hidden: the running run is not shown")
            self.wait_all_done()
            self.report_box()
        finally:
            ended = poll(lambda: (lambda s: s if s["status"] not in ("queued", "running") else None)(run_status(run_id)),
                         RUN_TIMEOUT, "the run did not end")
            total, running = run_seconds(ended)
            log(f"run {ended['status']} with {SLOW_RUN_EVENTS} events: {total:.2f} s from submission, {running:.2f} s from start")
        self.assertEqual(ended["status"], "succeeded")

        rows = self.stages()
        self.assertEqual([name for name, _ in rows], STAGES, "each stage must appear exactly once")
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "#agent-stages > li")), len(STAGES))
        self.assertEqual(self.tool_lines(), expected_tool_lines(run_id), "tool lines duplicated, missing or out of order")
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "#messages .markdown")), 1, "the report is shown once")
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "#messages li.msg.user")), 1, "the message is shown once")

    def test_3_stop_cancels_the_run(self):
        ensure_workload(SLOW_RUN_EVENTS)
        self.login()
        thread_id = self.create_thread(f"Stop {uuid.uuid4().hex[:8]}")
        stop = self.find("#stop")
        self.assertFalse(stop.is_enabled(), "Stop should be disabled before a run")
        self.send_with_enter(MESSAGE)
        self.wait_agent_started()  # agent_started gave the page the run's id: Stop can name it
        # A thinking sub-agent's pill is drawn like the others (it once took the "Thinking…" line's margin and size).
        self.wait().until(lambda d: any(status == "thinking" for _, status in self.stages()), "no sub-agent was seen thinking")
        heights = self.js("return [...document.querySelectorAll('#agent-stages li')].map(li => Math.round(li.getBoundingClientRect().height))")
        self.assertEqual(len(set(heights)), 1, f"the sub-agents' pills differ in height: {heights} ({self.stages()})")
        self.wait().until(EC.element_to_be_clickable((By.ID, "stop")), "Stop did not become enabled")
        stop.click()
        clicked_with = self.stages()
        run_id = self.wait_run_for_thread(thread_id)["run_id"]
        log(f"clicked Stop with stages {clicked_with}")
        self.wait(RUN_TIMEOUT).until(lambda d: self.find("#messages .run-result").text.strip(), "the run's end was not shown")
        self.assertIn("The run was cancelled.", self.find("#messages .run-result").text,
                      f"the page does not show the run as cancelled; run status {run_status(run_id)['status']}")
        self.wait().until(lambda d: not d.find_element(By.ID, "stop").is_enabled(), "Stop is still enabled")
        self.assertFalse(self.find("#thinking").is_displayed(), "the thinking line should be hidden after the run")
        ended = poll(lambda: (lambda s: s if s["status"] in ("cancelled", "succeeded", "failed") else None)(run_status(run_id)),
                     RUN_TIMEOUT, "the run did not end")
        self.assertEqual(ended["status"], "cancelled",
                         f"the run ended {ended['status']} after {run_seconds(ended)[1]:.2f} s, before Stop took effect "
                         f"(clicked with stages {clicked_with}; raise NETRA_BROWSER_SLOW_RUN_EVENTS)")
        statuses = [status for _, status in self.stages()]
        self.assertNotIn("thinking", statuses, "no sub-agent should still be thinking")
        self.assertLess(statuses.count("done"), len(STAGES), "a cancelled run cannot have every stage done")
        log(f"cancelled with stages {self.stages()}")

    def test_4_html_in_titles_and_messages_is_shown_as_text(self):
        title = '<img src=x onerror="window.__xss=1">'
        message = '<script>window.__xss=2</script><img src=x onerror="window.__xss=3">'
        self.login()
        self.create_thread(title)
        self.send_with_enter(message)
        self.wait(RUN_TIMEOUT).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#messages .run-result > *"), "the run's reply was not rendered")
        self.wait().until(lambda d: self.find("#stop").get_attribute("disabled"), "the run did not end on the page")

        self.assertEqual(self.js("return typeof window.__xss"), "undefined", "injected script ran")
        self.assertEqual(self.find("#thread-title").get_attribute("textContent"), title)
        self.assertEqual(self.find("#thread-list li.current .thread-title").get_attribute("textContent"), title)
        users = self.driver.find_elements(By.CSS_SELECTOR, "#messages li.msg.user .plain")
        self.assertEqual(users[-1].get_attribute("textContent"), message)
        self.assertEqual(self.js("return document.querySelectorAll('img[src=x]').length"), 0, "an <img src=x> was created")
        self.assertEqual(self.js("return document.querySelectorAll('img, [onerror]').length"), 0, "HTML from text was parsed")
        self.assertEqual(self.js("return Array.from(document.scripts).map(s => s.getAttribute('src'))"), ["/app.js"],
                         "a script element was injected")
        # The reply quotes the message; it must be text too.
        reply = self.js("return document.querySelector('#messages li.msg.assistant').textContent")
        self.assertIn("window.__xss=2", reply)
        # A reload renders the stored conversation (titles, the stored message and reply): still text.
        self.driver.refresh()
        self.wait_connected()
        self.wait().until(EC.text_to_be_present_in_element((By.ID, "thread-title"), title))
        self.wait().until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#messages li.msg")) >= 2, "the conversation was not reloaded")
        self.assertEqual(self.js("return typeof window.__xss"), "undefined", "injected script ran after a reload")
        self.assertEqual(self.js("return document.querySelectorAll('img[src=x], [onerror]').length"), 0)
        self.assertEqual(self.find("#messages li.msg.user .plain").get_attribute("textContent"), message)

    def test_8_single_sign_on_lands_signed_in_and_clears_the_token_from_the_address(self):
        # The single sign-on callback redirects to /#access_token=…; a tab without a stored token lands signed in.
        self.driver.get(BASE_URL + "/health")  # another document, so that the next load is a real one
        self.js("sessionStorage.clear()")
        self.driver.get(BASE_URL + "/#access_token=" + user_token() + "&token_type=bearer&expires_in=3600")
        self.wait_connected()
        self.assertEqual(self.js("return location.hash"), "", "the token must leave the address bar")
        self.assertEqual(self.js("return sessionStorage.getItem('netra.token')"), user_token())

    def test_6_every_control_has_a_name_and_tab_reaches_the_message_box(self):
        self.login()
        self.create_thread(f"Keyboard {uuid.uuid4().hex[:8]}")
        controls = self.driver.find_elements(By.CSS_SELECTOR, "input, textarea, select, button")
        self.assertGreater(len(controls), 8)
        unnamed = []
        for control in controls:
            # A name from the markup: label[for] (or a wrapping label), aria-label, aria-labelledby, or a button's text.
            # A placeholder does not count, although Chromium would fall back to it.
            markup = self.js("""
                const c = arguments[0];
                const byFor = c.id ? document.querySelector(`label[for="${CSS.escape(c.id)}"]`) : null;
                const labelledBy = (c.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
                    .map((id) => (document.getElementById(id) || {}).textContent || '').join(' ');
                return [c.getAttribute('aria-label'), labelledBy, byFor && byFor.textContent,
                        c.labels && c.labels[0] && c.labels[0].textContent,
                        c.tagName === 'BUTTON' ? c.textContent : ''].map((t) => (t || '').trim()).find(Boolean) || '';""", control)
            # What assistive technology gets (WebDriver "Get Computed Label"); hidden controls (the login form) have none.
            computed = control.accessible_name if control.is_displayed() else markup
            if not markup or not (computed or "").strip():
                unnamed.append(control.get_attribute("outerHTML")[:120])
        self.assertEqual(unnamed, [], "controls without an accessible name")

        # Tab order from the top of a freshly loaded page: the skip link first, then on to the message box.
        self.driver.refresh()
        self.wait_connected()
        self.wait().until(lambda d: d.find_elements(By.CSS_SELECTOR, "#thread-list li.current"), "the thread list did not load")
        visited = []
        for _ in range(150):
            ActionChains(self.driver).send_keys(Keys.TAB).perform()
            active = self.js("const a = document.activeElement; return a ? (a.id || a.tagName + ':' + a.textContent.trim().slice(0, 30)) : null")
            visited.append(active)
            if active == "composer-input":
                break
        self.assertEqual(visited[0], "A:Skip to message box", "the first Tab stop should be the skip link")
        self.assertEqual(visited[-1], "composer-input", f"Tab never reached the message box; visited {visited}")
        log(f"Tab stops up to the message box: {len(visited)}")
        # Shift+Enter makes a new line, it does not send.
        box = self.find("#composer-input")
        box.send_keys("first line")
        ActionChains(self.driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        box.send_keys("second line")
        self.assertEqual(box.get_attribute("value"), "first line\nsecond line")
        self.assertEqual(self.driver.find_elements(By.CSS_SELECTOR, "#messages li.msg"), [], "Shift+Enter sent the message")

    def test_7_operations_console(self):
        token = user_token()
        accepted = rest("POST", "/api/agent/runs", {
            "message": "console failure probe", "pipeline": "bench",
            "parameters": {"stages": 2, "fail_stage": 1, "fail_fatal": True},
        }, token=token)
        run_id = accepted["run_id"]
        failed = poll(lambda: (lambda s: s if s["status"] in ("failed", "dead", "succeeded", "cancelled") else None)(run_status(run_id)),
                      RUN_TIMEOUT, "the failing bench run did not end")
        self.assertEqual(failed["status"], "failed", failed)
        attempt = failed["attempt"]

        self.driver.get(BASE_URL + "/console")
        self.wait().until(EC.visibility_of_element_located((By.ID, "console-login")), "no sign-in form #console-login at /console")
        # A wrong token: an error, and the view stays hidden.
        self.allowed_console.append(" 401")  # the refused request shows in the console as a failed resource load
        self.find("#console-token").send_keys("not-the-admin-token-" + uuid.uuid4().hex[:6])
        self.find("#console-login [type=submit]").click()
        self.wait().until(lambda d: d.find_element(By.ID, "console-error").text.strip(), "a wrong token showed no error")
        self.assertFalse(self.find("#console-view").is_displayed(), "the console view is visible after a wrong token")

        field = self.find("#console-token")
        field.clear()
        field.send_keys(ADMIN_TOKEN)
        self.find("#console-login [type=submit]").click()
        self.wait().until(EC.visibility_of_element_located((By.ID, "console-view")), "the console view did not appear")
        self.wait().until(lambda d: d.find_element(By.ID, "console-error").text.strip() == "", "the error stayed after signing in")
        for figure in ("length", "lag", "pending", "oldest", "rate"):
            self.wait().until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#queue-summary [data-figure={figure}]"), f"no {figure} figure")
        for table in ("streams", "tenants", "workers", "dead"):
            self.assertEqual(self.find(f"#{table}").tag_name, "table", f"#{table} should be a table")
        self.wait(60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#workers tbody tr")) >= 2,
                            lambda: f"the two workers did not appear: {self.find('#workers').text}")
        self.assertEqual(len(self.driver.find_elements(By.CSS_SELECTOR, "#workers tbody tr")), 2, "one row per worker")
        self.assertTrue(self.driver.find_elements(By.CSS_SELECTOR, "#streams tbody tr"), "no stream rows")
        self.assertEqual(self.find("#streams tbody tr td").text, "runs:recovered", "a stream is shown without the key prefix")
        overflowing = self.js("""return [...document.querySelectorAll('.table-wrap')]
            .filter(w => w.scrollWidth > w.clientWidth).map(w => w.querySelector('table').id)""")
        self.assertEqual(overflowing, [], "tables wider than their panel on a 1280 px screen")
        self.wait().until(lambda d: d.find_element(By.ID, "console-status").text.strip(), "#console-status is empty")

        self.wait(60).until(lambda d: any(run_id in li.text for li in d.find_elements(By.CSS_SELECTOR, "#failures li")),
                            "the failed run is not listed in #failures")
        retry = self.wait(60).until(EC.element_to_be_clickable((By.CSS_SELECTOR, f'#dead tbody tr button.retry[data-run-id="{run_id}"]')),
                                    "the failed run has no retry button in #dead")
        self.screenshot("console.png", full_page=True)
        first_status = self.find("#console-status").text
        self.wait(30).until(lambda d: d.find_element(By.ID, "console-status").text != first_status, "#console-status did not refresh")

        retry = self.find(f'#dead tbody tr button.retry[data-run-id="{run_id}"]')
        retry.click()
        retried = poll(lambda: (lambda s: s if s["attempt"] > attempt else None)(run_status(run_id)), 30, "the run was not re-queued")
        self.assertGreater(retried["attempt"], attempt)
        log(f"retried run: attempt {attempt} -> {retried['attempt']}, status {retried['status']}")


class PhoneTests(BrowserTest):
    width, height, phone = 390, 844, True

    def test_5_phone_viewport(self):
        # Two threads to choose from, one with a title as long as the page makes from a first message (57 + "…").
        short = f"Phone {uuid.uuid4().hex[:6]}"
        long = ("Why did our spend on gpt-4o for the chat feature jump last week " + uuid.uuid4().hex)[:57] + "…"
        for title in (short, long):
            rest("POST", "/api/threads", {"title": title}, token=user_token())
        problems = []  # layout problems are collected so that the rest of the test still runs

        def check_width(when):
            scroll_width = self.js("return document.documentElement.scrollWidth")
            if scroll_width > 390:
                problems.append(f"{when}: the page is {scroll_width} px wide on a 390 px screen (horizontal scrolling)")

        self.login()
        self.assertEqual(self.js("return window.innerWidth"), 390)
        self.wait().until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#thread-list .thread-title")) >= 2, "the threads are not listed")
        self.wait().until(lambda d: d.find_elements(By.CSS_SELECTOR, "#thread-list li.current"), "no thread was opened")
        check_width("signed in, threads listed")
        sidebar = self.js("const s = document.getElementById('sidebar'); return [s.scrollWidth, s.clientWidth]")
        if sidebar[0] > sidebar[1]:
            problems.append(f"the thread sidebar overflows sideways ({sidebar[0]} px of content in {sidebar[1]} px): titles and buttons are cut off")
        # Threads are reachable: the list is on screen and tapping a title opens that thread.
        target = next(b for b in self.driver.find_elements(By.CSS_SELECTOR, "#thread-list .thread-title")
                      if b.get_attribute("textContent") == short)
        self.js("arguments[0].scrollIntoView({block: 'center', inline: 'start'})", target)
        self.wait().until(EC.element_to_be_clickable(target))
        target.click()
        self.wait().until(EC.text_to_be_present_in_element((By.ID, "thread-title"), short), "tapping a thread did not open it")

        self.create_thread(f"Phone {uuid.uuid4().hex[:8]}")
        for css in ("#composer-input", "#send"):
            element = self.find(css)
            self.js("arguments[0].scrollIntoView({block: 'center', inline: 'nearest'})", element)
            self.assertTrue(element.is_displayed(), f"{css} is not visible")
            rect = self.js("const r = arguments[0].getBoundingClientRect(); return {left: r.left, right: r.right, width: r.width};", element)
            if rect["left"] < 0 or rect["right"] > 390:
                problems.append(f"{css} is not within the 390 px viewport: {rect}")
            self.assertGreater(rect["width"], 40, f"{css} is too narrow to use: {rect}")
        # Usable: typing and tapping Send sends; the report must fit the width too.
        box = self.find("#composer-input")
        box.click()
        box.send_keys(MESSAGE)
        self.find("#send").click()
        self.wait().until(lambda d: d.find_elements(By.CSS_SELECTOR, "#messages li.msg.user"), "tapping Send sent nothing")
        self.wait_all_done()
        self.report_box()
        self.js("window.scrollTo(0, 0)")
        self.screenshot("phone-report.png")
        check_width("report shown")
        problems += [f"cut off: {item}" for item in self.clipped()]
        if problems:
            self.fail("layout problems on a phone:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    program = unittest.main(exit=False)
    result = program.result
    failed = len({test.id() for test, _ in result.failures + result.errors}) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"browser: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""), flush=True)
    sys.exit(0 if result.testsRun > 0 and result.wasSuccessful() else 1)
