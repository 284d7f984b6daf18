#!/usr/bin/env python3
"""Headless Chromium driven over the DevTools protocol, for the dashboard's tests.

browser.py URL [--wait SECONDS] [--until JS] [--eval JS]... [--screenshot FILE] [--size WxH]

Opens URL in a fresh headless Chromium, lets the page run in real time (its streams and timers as a user's browser
runs them) until --until is true or --wait seconds pass, then prints one JSON object: "values" (each --eval's result),
"console" (every console message and uncaught exception, with its level) and "until" (whether --until held).
"""
import argparse, json, os, re, shutil, subprocess, sys, tempfile, time, urllib.request
import websocket

parser = argparse.ArgumentParser()
parser.add_argument("url")
parser.add_argument("--wait", type=float, default=10)
parser.add_argument("--until")
parser.add_argument("--eval", action="append", default=[])
parser.add_argument("--screenshot")
parser.add_argument("--size", default="1400x1000")
args = parser.parse_args()

profile = tempfile.mkdtemp(prefix="browser-")
width, height = args.size.split("x")
chrome = subprocess.Popen(
    ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
     f"--user-data-dir={profile}", "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
try:
    port = None
    deadline = time.time() + 60
    while port is None and time.time() < deadline:
        line = chrome.stderr.readline()
        match = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if match:
            port = int(match.group(1))
        elif not line and chrome.poll() is not None:
            sys.exit("browser.py: chromium exited before listening")
    pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
    page = next(p for p in pages if p.get("type") == "page")
    ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=5)
    counter = [0]
    console = []

    def note(message):
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
            console.append({"level": params.get("type"), "text": text})
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            console.append({"level": "exception", "text": details.get("exception", {}).get("description") or details.get("text")})
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") in ("error", "warning"):
                console.append({"level": entry.get("level"), "text": entry.get("text")})

    def call(method, **params):
        counter[0] += 1
        ident = counter[0]
        ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            note(message)

    def evaluate(expression):
        result = call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            return {"exception": result["exceptionDetails"].get("text")}
        return result.get("result", {}).get("value")

    for domain in ["Runtime.enable", "Page.enable", "Log.enable"]:
        call(domain)
    call("Page.navigate", url=args.url)
    held = False
    end = time.time() + args.wait
    ws.settimeout(0.2)
    while time.time() < end:
        try:
            note(json.loads(ws.recv()))
        except websocket.WebSocketTimeoutException:
            pass
        if args.until:
            ws.settimeout(5)
            value = evaluate(args.until)
            # An expression that throws (the page not there yet) has not held.
            held = bool(value) and not (isinstance(value, dict) and "exception" in value)
            ws.settimeout(0.2)
            if held:
                break
    ws.settimeout(5)
    values = [evaluate(expression) for expression in args.eval]
    if args.screenshot:
        import base64
        shot = call("Page.captureScreenshot", format="png")
        with open(args.screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
    print(json.dumps({"values": values, "console": console, "until": held}))
finally:
    chrome.terminate()
    try:
        chrome.wait(timeout=10)
    except subprocess.TimeoutExpired:
        chrome.kill()
    shutil.rmtree(profile, ignore_errors=True)
