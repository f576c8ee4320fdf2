"""What the serving tests share about the `corun serve` process they start: stopping it by its
PID, SIGTERM first and SIGKILL after 30 s."""
import signal
import subprocess


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
