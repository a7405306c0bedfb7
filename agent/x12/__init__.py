"""Reading X12 835 remittance advice into typed claims."""

from agent.x12.errors import ParseWarning, X12ParseError
from agent.x12.reader import ReadStats, Remittance835Reader, read_835

__all__ = ["ParseWarning", "ReadStats", "Remittance835Reader", "X12ParseError", "read_835"]
