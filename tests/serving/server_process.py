"""What the serving tests share about the `corun serve` process they start: plain HTTP requests
to it on loopback, and stopping it by its PID, SIGTERM first and SIGKILL after 30 s."""
import http.client
import json
import signal
import subprocess


def http_request(port, method, path, body=None, headers=None, timeout=120):
    """(status, headers, body bytes) from 127.0.0.1:PORT; never raises for an HTTP error
    status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def http_json(port, method, path, payload=None, headers=None, timeout=120):
    """(status, decoded JSON body or None) for a JSON request (payload None: no body)."""
    body = None if payload is None else json.dumps(payload).encode()
    status, _, data = http_request(port, method, path, body, headers, timeout)
    return status, (json.loads(data) if data else None)


def stop_server(process, log):
    """Stops the server the test started and closes its log; returns its exit code."""
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait()
    log.close()
    return code
