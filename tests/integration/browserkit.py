"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol through a pipe
(``--remote-debugging-pipe``: the browser reads commands on fd 3 and answers on fd 4, each message
JSON ended by a NUL byte), so no client library and no port are needed.

    with Browser() as browser:
        page = browser.open('file:///.../report.html', width=1280, height=900)
        page.evaluate('document.title')
        page.screenshot('build/page.png')
        page.problems  # console errors, exceptions, CSP violations, requests other than the page

Every wait is bounded; the browser is killed on exit.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, timeout=30.0):
        self.timeout = timeout
        self._next = 0
        self._buffer = b''
        self._events = []

    def __enter__(self):
        if not CHROMIUM:
            raise BrowserError('chromium is not installed (apt-get install chromium)')
        self._profile = tempfile.mkdtemp(prefix='patchops-chromium-')
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Above fd 9 first, so that putting them on 3 and 4 in the child overwrites neither.
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_r, from_browser_w)]
        os.close(to_browser_r)
        os.close(from_browser_w)

        def on_3_and_4():
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        args = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--hide-scrollbars',
                '--user-data-dir=' + self._profile, '--remote-debugging-pipe', 'about:blank']
        # Every other descriptor is close-on-exec; the two dup2 copies are inherited.
        self._proc = subprocess.Popen(args, close_fds=False, preexec_fn=on_3_and_4,  # pylint: disable=subprocess-popen-preexec-fn
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in ends:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        try:
            self.send('Browser.close')
        except (BrowserError, OSError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self._profile, ignore_errors=True)

    def _read(self, deadline):
        while b'\0' not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError('no answer from chromium in time')
            ready, dummy, dummy = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError('chromium closed its pipe (exit code %s)' % self._proc.poll())
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b'\0', 1)
        return json.loads(message.decode('utf-8'))

    def send(self, method, params=None, session=None):
        """One command; returns its result (events read meanwhile are kept)."""
        self._next += 1
        message = {'id': self._next, 'method': method, 'params': params or {}}
        if session:
            message['sessionId'] = session
        os.write(self._to_browser, json.dumps(message).encode('utf-8') + b'\0')
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read(deadline)
            if answer.get('id') == self._next:
                if 'error' in answer:
                    raise BrowserError('%s: %s' % (method, answer['error']))
                return answer.get('result', {})
            self._events.append(answer)

    def wait_event(self, method, session, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for index, event in enumerate(self._events):
                if event.get('method') == method and event.get('sessionId') == session:
                    return self._events.pop(index)
            self._events.append(self._read(deadline))

    def events(self, session):
        return [e for e in self._events if e.get('sessionId') == session]

    def open(self, url, width=1280, height=900, mobile=False):
        target = self.send('Target.createTarget', {'url': 'about:blank'})['targetId']
        session = self.send('Target.attachToTarget', {'targetId': target, 'flatten': True})['sessionId']
        page = Page(self, session, url)
        for domain in ('Page', 'Runtime', 'Log', 'Network'):
            self.send(domain + '.enable', session=session)
        page.resize(width, height, mobile)
        self.send('Page.navigate', {'url': url}, session=session)
        self.wait_event('Page.loadEventFired', session)
        return page


class Page:
    def __init__(self, browser, session, url):
        self.browser = browser
        self.session = session
        self.url = url

    def send(self, method, params=None):
        return self.browser.send(method, params, session=self.session)

    def resize(self, width, height, mobile=False):
        self.send('Emulation.setDeviceMetricsOverride', {
            'width': width, 'height': height, 'deviceScaleFactor': 1, 'mobile': mobile})

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (an exception fails)."""
        answer = self.send('Runtime.evaluate', {'expression': expression, 'returnByValue': True,
                                                'awaitPromise': True})
        if 'exceptionDetails' in answer:
            raise BrowserError('%s: %s' % (expression, answer['exceptionDetails']))
        return answer['result'].get('value')

    @property
    def problems(self):
        """Console errors and warnings, uncaught exceptions, log errors (CSP violations among them) and
        any request for something other than the page itself."""
        found = []
        for event in self.browser.events(self.session):
            method, params = event.get('method'), event.get('params', {})
            if method == 'Runtime.exceptionThrown':
                found.append('exception: %s' % params.get('exceptionDetails', {}).get('text'))
            elif method == 'Runtime.consoleAPICalled' and params.get('type') in ('error', 'warning', 'assert'):
                found.append('console %s: %s' % (params['type'], [a.get('value') for a in params.get('args', [])]))
            elif method == 'Log.entryAdded' and params.get('entry', {}).get('level') in ('error', 'warning'):
                found.append('log: %s' % params['entry'].get('text'))
            elif method == 'Network.requestWillBeSent' and params.get('request', {}).get('url') != self.url:
                found.append('request: %s' % params['request'].get('url'))
        return found

    def screenshot(self, path, width, height=800, mobile=False):
        """A PNG of the whole page at this viewport width."""
        self.resize(width, height, mobile)
        full = self.evaluate('Math.ceil(document.documentElement.scrollHeight)')
        data = self.send('Page.captureScreenshot', {
            'format': 'png', 'captureBeyondViewport': True,
            'clip': {'x': 0, 'y': 0, 'width': width, 'height': max(height, full), 'scale': 1}})['data']
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, 'wb') as fh:
            fh.write(base64.b64decode(data))
        return path
