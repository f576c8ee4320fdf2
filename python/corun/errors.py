"""Exceptions corun raises, with hailo_platform's names.

Every failure of the runtime raises a subclass of :class:`CorunException` (also named
``HailoRTException``, as in hailo_platform) whose ``status`` is corun's status name
("TIMEOUT", "INVALID_ARGUMENT", ...) and whose ``message`` says the cause and the fix.
"""


class CorunException(Exception):
    """A corun call failed: ``status`` names the StatusCode, ``message`` explains it."""

    def __init__(self, status, message=""):
        super().__init__(f"{status}: {message}" if message else status)
        self.status = status
        self.message = message


HailoRTException = CorunException


class HailoRTTimeout(CorunException):
    """TIMEOUT: the call or job did not finish within its timeout."""


class HailoRTInvalidArgumentException(CorunException):
    """INVALID_ARGUMENT: a value passed in is wrong (the message names it)."""


class HailoRTInvalidOperationException(CorunException):
    """INVALID_OPERATION: the call is not allowed in this state."""


class HailoRTNotFoundException(CorunException):
    """NOT_FOUND: a file, stream or device that does not exist."""


class HailoRTInvalidHEFException(CorunException):
    """INVALID_MODEL: the model file is not a model corun can load (HailoRT: invalid HEF)."""


class HailoRTStreamAborted(CorunException):
    """SHUTDOWN or ABORTED: the model was shut down, or the work was aborted."""


class HailoRTNotSupportedException(CorunException):
    """NOT_SUPPORTED: corun cannot do this (the message says what to do instead)."""


class CorunServiceException(CorunException):
    """RPC_FAILED or PROTOCOL_MISMATCH: corund could not be reached or speaks another version."""


_BY_STATUS = {
    "TIMEOUT": HailoRTTimeout,
    "INVALID_ARGUMENT": HailoRTInvalidArgumentException,
    "INVALID_OPERATION": HailoRTInvalidOperationException,
    "NOT_FOUND": HailoRTNotFoundException,
    "INVALID_MODEL": HailoRTInvalidHEFException,
    "SHUTDOWN": HailoRTStreamAborted,
    "ABORTED": HailoRTStreamAborted,
    "NOT_SUPPORTED": HailoRTNotSupportedException,
    "RPC_FAILED": CorunServiceException,
    "PROTOCOL_MISMATCH": CorunServiceException,
}


def exception_for(status, message):
    """The exception (not raised) for a corun status name and its message."""
    return _BY_STATUS.get(status, CorunException)(status, message)


__all__ = ["CorunException", "exception_for"] + [
    name for name in dict(globals()) if name.startswith(("HailoRT", "CorunService"))
]
