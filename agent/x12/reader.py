"""A streaming reader for X12 835 remittance advice (005010X221A1; 004010X091A1 with a warning).

Claims are yielded as soon as they are complete, so a file of any size is read in flat
memory. Structural problems (not X12, truncated, wrong element counts, bad amounts or
dates, SE count mismatch) raise :class:`~agent.x12.errors.X12ParseError`; problems a
biller should see but that do not stop reading (unbalanced claims, an older version, a
component separator that differs from ISA16) become :class:`~agent.x12.errors.ParseWarning`.

Usage::

    reader = Remittance835Reader.open("era.835")
    for claim in reader:
        ...
    reader.warnings, reader.remittances, reader.stats
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from agent.x12.errors import ParseWarning, X12ParseError
from agent.x12.models import (
    Address,
    Adjustment,
    ClaimPayment,
    Contact,
    Entity,
    MonetaryAmount,
    Party,
    Procedure,
    ProviderAdjustment,
    ProviderSummary,
    Quantity,
    Reference,
    Remark,
    Remittance,
    ServiceLine,
)
from agent.x12.segments import iter_segments
from agent.x12.values import (
    AMOUNT_CACHE,
    DATE_CACHE,
    parse_amount,
    parse_date,
    parse_optional_amount,
)

ADJUSTMENT_GROUPS = frozenset({"CO", "PR", "OA", "PI", "CR"})
"""CAS01 group codes (CR is legacy but still sent by some payers)."""

CLAIM_STATUS_CODES = frozenset({"1", "2", "3", "4", "19", "20", "21", "22", "23", "25"})
"""CLP02 values defined by 005010X221A1."""

_ZERO = Decimal(0)

# Most elements a segment may carry (segment id not counted). More are reported and ignored.
_MAX_ELEMENTS = {
    "ISA": 16, "IEA": 2, "GS": 8, "GE": 2, "ST": 3, "SE": 2, "BPR": 21, "TRN": 4, "CUR": 21,
    "REF": 4, "DTM": 6, "N1": 6, "N3": 2, "N4": 7, "PER": 9, "RDM": 3, "LX": 1, "TS3": 24,
    "TS2": 19, "CLP": 14, "CAS": 19, "NM1": 12, "MIA": 24, "MOA": 9, "AMT": 3, "QTY": 4,
    "SVC": 7, "LQ": 2, "PLB": 14,
}
_PROCEDURE_CACHE_LIMIT = 20_000
_MAX_ADDRESS_LINES = 4
"""005010X221A1 allows one N3 (two lines) per N1 loop; a repeat is read, more are not."""

_MAX_LENGTH = {sid: count + 1 for sid, count in _MAX_ELEMENTS.items()}
"""The same as a list length (the id counts); 0 for a segment the reader does not know."""
# The hot segments check their length inline (a constant beats a dict look-up per segment).
_DTM_LEN, _CAS_LEN, _SVC_LEN, _REF_LEN = (_MAX_LENGTH[s] for s in ("DTM", "CAS", "SVC", "REF"))
_AMT_LEN, _CLP_LEN, _NM1_LEN, _LQ_LEN = (_MAX_LENGTH[s] for s in ("AMT", "CLP", "NM1", "LQ"))
# Empty elements that bring a short segment of n items up to the last one read (shared,
# so padding does not build a list each time).
_NM1_PADDING = tuple([""] * (10 - n) for n in range(10))
_CLP_PADDING = tuple([""] * (12 - n) for n in range(12))


@dataclass(slots=True)
class ReadStats:
    """Counts of what was read from one file."""

    interchanges: int = 0
    transactions: int = 0
    claims: int = 0
    service_lines: int = 0
    adjustments: int = 0
    segments: int = 0


class Remittance835Reader:
    """Reads one 835 file (or stream) and yields its claims as they complete.

    Iterate once. After iteration, :attr:`remittances` holds every transaction set's
    header (payer, payee, check/EFT, PLB adjustments), :attr:`warnings` what a biller
    should know, and :attr:`stats` the counts.
    """

    def __init__(self, stream: TextIO, source: str, *,
                 on_warning: Callable[[ParseWarning], None] | None = None,
                 close: bool = False, max_warnings: int | None = None) -> None:
        self.source = source
        self.warnings: list[ParseWarning] = []
        self.warnings_dropped = 0
        """Warnings past ``max_warnings``: counted (and passed to ``on_warning``), not kept."""
        self._max_warnings = max_warnings
        self.remittances: list[Remittance] = []
        self.stats = ReadStats()
        self._stream = stream
        self._close = close
        self._on_warning = on_warning
        self._started = False
        self._claim_payments = _ZERO
        self._component = ":"
        self._component_checked = False
        self._versions_seen: set[str] = set()
        # Procedures repeat across a remittance (same code and modifiers); they are frozen
        # values, so one object can serve every line that bills them.
        self._procedures: dict[str, Procedure] = {}

    @classmethod
    def open(cls, path: str | Path, *, source: str | None = None,
             on_warning: Callable[[ParseWarning], None] | None = None,
             max_warnings: int | None = None) -> Remittance835Reader:
        """Open a file for reading. Undecodable bytes are replaced, never fatal.

        ``max_warnings`` bounds :attr:`warnings` (a file unbalanced on every line would
        otherwise keep a warning per line in memory); the rest are only counted.
        """
        path = Path(path)
        stream = open(path, encoding="utf-8", errors="replace", newline="")  # noqa: SIM115
        return cls(stream, source or str(path), on_warning=on_warning, close=True,
                   max_warnings=max_warnings)

    @classmethod
    def from_text(cls, text: str, source: str = "<text>") -> Remittance835Reader:
        """Read an 835 held in memory (tests, API uploads)."""
        return cls(io.StringIO(text), source)

    # -- warnings -------------------------------------------------------------------

    def _warn(self, segment_number: int | None, segment_id: str | None, code: str,
              message: str) -> None:
        warning = ParseWarning(self.source, segment_number, segment_id, code, message)
        if self._max_warnings is None or len(self.warnings) < self._max_warnings:
            self.warnings.append(warning)
        else:
            self.warnings_dropped += 1
        if self._on_warning is not None:
            self._on_warning(warning)

    # -- reading --------------------------------------------------------------------

    def __iter__(self) -> Iterator[ClaimPayment]:
        if self._started:
            raise RuntimeError("a Remittance835Reader can be iterated only once")
        self._started = True
        try:
            yield from self._read()
        finally:
            if self._close:
                self._stream.close()

    # One linear pass over the segments, inlined for speed: the only function exempt from
    # the complexity limit, as splitting it costs measured throughput (docs/835.md).
    def _read(self) -> Iterator[ClaimPayment]:  # noqa: C901
        source = self.source
        envelope, batches = iter_segments(self._stream, source)
        delims = envelope.delimiters
        element_sep = delims.element
        self._component = delims.component
        self._component_checked = False
        if not envelope.enveloped:
            self._warn(1, "ST", "no_envelope", "no ISA/GS envelope: read as a bare 835 "
                       "transaction with standard delimiters")
        stats = self.stats
        seg_no = 0
        st_start = 0  # segment number of the open ST
        in_isa = in_gs = False
        gs_transactions = isa_groups = 0
        isa: list[str] = []
        gs_version = ""
        remit: Remittance | None = None
        claim: ClaimPayment | None = None
        line: ServiceLine | None = None
        party: Party | None = None
        header_number: str | None = None
        max_length = _MAX_LENGTH.get
        claims_read = lines_read = adjustments_read = 0
        # Memo look-ups inlined on the hottest paths (parse_* fill them).
        amount_get = AMOUNT_CACHE.get
        date_get = DATE_CACHE.get
        procedures_get = self._procedures.get
        sid = ""

        def fail(message: str) -> X12ParseError:
            return X12ParseError(source, seg_no, sid, message)

        for batch in batches:
            for seg_no, raw in enumerate(batch, seg_no + 1):  # noqa: B020 - resumes the count
                el = raw.split(element_sep)
                sid = el[0]
                n = len(el)
                # Hot path first: the segments that repeat for every service line.
                if sid == "DTM":
                    if n > _DTM_LEN:
                        el, n = self._extra_elements(el, seg_no, _DTM_LEN)
                    if n < 3 or not el[1] or not el[2]:
                        raise fail("DTM needs a qualifier (DTM01) and a date (DTM02)")
                    value = date_get(el[2])
                    if value is None:
                        try:
                            value = parse_date(el[2])
                        except ValueError:
                            raise fail("DTM02 is not a valid date (CCYYMMDD)") from None
                    qualifier = el[1]
                    if line is not None:
                        if qualifier == "472":
                            line.service_date = value
                        elif qualifier == "150":
                            line.service_period_start = value
                        elif qualifier == "151":
                            line.service_period_end = value
                    elif claim is not None:
                        if qualifier == "232":
                            claim.statement_from = value
                        elif qualifier == "233":
                            claim.statement_to = value
                        elif qualifier == "050":
                            claim.received_date = value
                        elif qualifier == "036":
                            claim.coverage_expiration = value
                    elif remit is not None:
                        if qualifier == "405":
                            remit.production_date = value
                    else:
                        raise fail("DTM outside a transaction set")
                elif sid == "CAS":
                    if n > _CAS_LEN:
                        el, n = self._extra_elements(el, seg_no, _CAS_LEN)
                    if claim is None:
                        raise fail("CAS outside a claim")
                    target = line.adjustments if line is not None else claim.adjustments
                    if n == 4 and el[1] in ADJUSTMENT_GROUPS and el[2] and el[3]:
                        # One reason, the common case: no loop.
                        amount = amount_get(el[3])
                        if amount is None:
                            try:
                                amount = parse_amount(el[3])
                            except ValueError:
                                raise fail("CAS03 is not a valid amount") from None
                        target.append(Adjustment(el[1], el[2], amount))
                        adjustments_read += 1
                    elif n == 7 and not el[4] and el[1] in ADJUSTMENT_GROUPS and el[2] \
                            and el[5] and (amount := amount_get(el[3])) is not None \
                            and (second := amount_get(el[6])) is not None:
                        # Two reasons without quantities, memoised amounts (next most common):
                        # no call, no loop. Anything else goes through _adjustments.
                        target.append(Adjustment(el[1], el[2], amount))
                        target.append(Adjustment(el[1], el[5], second))
                        adjustments_read += 2
                    else:
                        adjustments = self._adjustments(el, fail)
                        target.extend(adjustments)
                        adjustments_read += len(adjustments)
                elif sid == "SVC":
                    if n > _SVC_LEN:
                        el, n = self._extra_elements(el, seg_no, _SVC_LEN)
                    if claim is None:
                        raise fail("SVC before any CLP: a service line must belong to a claim")
                    # The usual line inline (a call per line costs more than the checks it
                    # skips): a procedure seen before, memoised amounts, no SVC06/SVC07.
                    # Anything else, and every error, goes through _service_line.
                    line = None
                    if 3 < n < 7:
                        procedure = procedures_get(el[1])
                        charge, paid = amount_get(el[2]), amount_get(el[3])
                        units_text = el[5] if n == 6 else ""
                        units = amount_get(units_text) if units_text else None
                        if procedure is not None and charge is not None and paid is not None \
                                and (units is not None or not units_text):
                            # Positional, in the order tests/test_x12_models.py pins.
                            line = ServiceLine(procedure, charge, paid, el[4] or None if n > 4
                                               else None, units, None, None, None, None, None,
                                               [], None, [], [], [], [], seg_no)
                    if line is None:
                        line = self._service_line(el, seg_no, fail)
                    claim.lines.append(line)
                    lines_read += 1
                elif sid == "REF":
                    if n > _REF_LEN:
                        el, n = self._extra_elements(el, seg_no, _REF_LEN)
                    if n < 3 or not el[1]:
                        raise fail("REF needs a qualifier (REF01) and a value (REF02)")
                    if line is not None:
                        if el[1] == "6R":
                            line.line_control_number = el[2]
                        else:
                            line.references.append(Reference(el[1], el[2]))
                        continue
                    ref = Reference(el[1], el[2])
                    if claim is not None:
                        claim.references.append(ref)
                    elif party is not None:
                        party.references.append(ref)
                    elif remit is not None:
                        if ref.qualifier == "EV":
                            remit.receiver_id = ref.value
                    else:
                        raise fail("REF outside a transaction set")
                elif sid == "AMT":
                    if n > _AMT_LEN:
                        el, n = self._extra_elements(el, seg_no, _AMT_LEN)
                    if n < 3 or not el[1]:
                        raise fail("AMT needs a qualifier (AMT01) and an amount (AMT02)")
                    amount = amount_get(el[2])
                    if amount is None:
                        try:
                            amount = parse_amount(el[2])
                        except ValueError:
                            raise fail("AMT02 is not a valid amount") from None
                    amt = MonetaryAmount(el[1], amount)
                    if line is not None:
                        line.amounts.append(amt)
                    elif claim is not None:
                        claim.amounts.append(amt)
                elif sid == "NM1":  # two or more per claim: before CLP in this chain
                    if n > _NM1_LEN:
                        el, n = self._extra_elements(el, seg_no, _NM1_LEN)
                    if claim is None:
                        raise fail("NM1 outside a claim")
                    if n < 3 or not el[1]:
                        raise fail("NM1 needs an entity code (NM101) and an entity type "
                                   "(NM102)")
                    if n < 10:  # NM108/NM109 are optional: pad rather than test each index
                        el += _NM1_PADDING[n]
                    # Inline, not a method: one call per NM1 costs more than building it.
                    entity = Entity(el[1], el[3] or None, el[4] or None, el[5] or None,
                                    el[2] == "2", el[8] or None, el[9].strip() or None)
                    code = el[1]
                    if code == "QC":
                        claim.patient = entity
                    elif code == "82":
                        claim.service_provider = entity
                    elif code == "IL":
                        claim.subscriber = entity
                    elif code == "74":
                        claim.corrected_patient = entity
                    elif code == "TT":
                        claim.crossover_carrier = entity
                    elif code == "PR":
                        claim.corrected_priority_payer = entity
                    elif code == "GB":
                        claim.other_subscriber = entity
                elif sid == "CLP":
                    if n > _CLP_LEN:
                        el, n = self._extra_elements(el, seg_no, _CLP_LEN)
                    if claim is not None:
                        yield self._finish_claim(claim)
                        claim = None
                    if remit is None:
                        raise fail("CLP outside a transaction set")
                    party = None
                    line = None
                    claims_read += 1
                    claim = self._claim(el, remit, seg_no, fail, header_number, claims_read)
                elif sid == "LQ":
                    if n > _LQ_LEN:
                        el, n = self._extra_elements(el, seg_no, _LQ_LEN)
                    if line is None:
                        raise fail("LQ outside a service line: remark codes must follow an SVC")
                    if n < 3 or el[1] not in ("HE", "RX") or not el[2]:
                        raise fail("LQ needs a code list qualifier (HE or RX) and a remark code")
                    line.remarks.append(Remark(el[2], el[1]))
                else:
                    # Not a hot segment: check it is known and has no extra elements.
                    limit = max_length(sid, 0)
                    if not limit:
                        if not (2 <= len(sid) <= 3 and sid.isascii() and sid.isalnum()
                                and (sid.isupper() or sid.isdigit())):
                            sid = ""  # not an id: it may be text from a name, never repeat it
                            raise fail("not a valid segment id: the file is not X12 or is "
                                       "corrupted")
                        if remit is None:
                            raise fail("segment outside an 835 transaction set (no ST before "
                                       "it)")
                        continue  # a segment this reader does not need (N2, RDM, ...)
                    if n > limit:
                        if sid == "ISA":
                            raise fail("ISA must have 16 elements")
                        el, n = self._extra_elements(el, seg_no, limit)
                    if sid == "QTY":
                        if n < 3 or not el[1]:
                            raise fail("QTY needs a qualifier (QTY01) and a quantity (QTY02)")
                        try:
                            qty = Quantity(el[1], parse_amount(el[2]))
                        except ValueError:
                            raise fail("QTY02 is not a valid quantity") from None
                        if line is not None:
                            line.quantities.append(qty)
                        elif claim is not None:
                            claim.quantities.append(qty)
                    elif sid == "MIA" or sid == "MOA":
                        if claim is None:
                            raise fail(f"{sid} outside a claim")
                        indexes = (5, 20, 21, 22, 23, 24) if sid == "MIA" else (3, 4, 5, 6, 7)
                        remarks = (claim.inpatient_remarks if sid == "MIA"
                                   else claim.outpatient_remarks)
                        remarks.extend(Remark(el[i], sid) for i in indexes if i < n and el[i])
                    elif sid == "LX":
                        if claim is not None:
                            yield self._finish_claim(claim)
                            claim = line = None
                        if remit is None:
                            raise fail("LX outside a transaction set")
                        party = None
                        header_number = el[1] if n > 1 else ""
                        remit.provider_summaries.append(ProviderSummary(header_number))
                    elif sid == "TS3" or sid == "TS2":
                        if remit is None or not remit.provider_summaries or claim is not None:
                            raise fail(f"{sid} must follow LX, before the claims of its group")
                        if sid == "TS3":
                            self._provider_summary(remit.provider_summaries[-1], el, fail)
                    elif sid == "PLB":
                        if claim is not None:
                            yield self._finish_claim(claim)
                            claim = line = None
                        if remit is None:
                            raise fail("PLB outside a transaction set")
                        remit.provider_adjustments.extend(self._provider_adjustments(el, fail))
                    elif sid == "SE":
                        if claim is not None:
                            yield self._finish_claim(claim)
                            claim = line = None
                        if remit is None:
                            raise fail("SE without a matching ST")
                        declared = _count(el[1]) if n > 1 else None
                        if declared is None:
                            raise fail("SE01 (number of included segments) is missing or not a "
                                       "number")
                        st_count = seg_no - st_start + 1
                        if declared > st_count and envelope.enveloped:
                            raise fail(f"SE01 says {declared} segments but the transaction set has "
                                       f"{st_count}: segments are missing (truncated or edited)")
                        if declared != st_count:
                            # More segments than declared loses nothing; a bare ST..SE extract (no
                            # ISA) is assembled by hand and its SE01 is unreliable. Both are read
                            # and reported (published sample files do both).
                            self._warn(seg_no, sid, "se_count", f"SE01 says {declared} "
                                       "segments but "
                                       f"the transaction set has {st_count}")
                        self._check_payment_balance(remit, seg_no)
                        remit = None
                        party = None
                        header_number = None
                        gs_transactions += 1
                    elif sid == "ST":
                        if remit is not None:
                            raise fail("ST before the previous transaction set ended (missing SE)")
                        if envelope.enveloped and not in_gs:
                            raise fail("ST outside a functional group (missing GS)")
                        if n < 3 or not el[2]:
                            raise fail("ST needs a transaction set id (ST01) and control "
                                       "number (ST02)")
                        if el[1] != "835":
                            raise fail("this is not an 835 remittance (ST01 names another "
                                       "transaction)")
                        version = (el[3] if n > 3 and el[3] else gs_version) or \
                            (isa[12] if len(isa) > 12 else "")
                        remit = Remittance(
                            source=source, transaction_control_number=el[2], version=version,
                            interchange_control_number=isa[13].strip() if len(isa) > 13 else None,
                            interchange_sender=isa[6].strip() if len(isa) > 6 else None,
                            interchange_receiver=isa[8].strip() if len(isa) > 8 else None)
                        self._check_version(version, seg_no)
                        self.remittances.append(remit)
                        stats.transactions += 1
                        st_start = seg_no
                    elif sid in ("BPR", "TRN", "N1", "N3", "N4", "PER", "CUR", "RDM"):
                        if remit is None:
                            raise fail(f"{sid} outside a transaction set")
                        if claim is not None:
                            raise fail(f"{sid} belongs to the header of the remittance, not "
                                       "to a claim")
                        party = self._header_segment(remit, party, el, seg_no, fail)
                    elif sid == "GS":
                        if not in_isa and envelope.enveloped:
                            raise fail("GS outside an interchange (missing ISA)")
                        if in_gs:
                            raise fail("GS before the previous functional group ended (missing GE)")
                        if n < 9:
                            raise fail("GS needs eight elements")
                        in_gs = True
                        gs_version = el[8]
                        gs_transactions = 0
                        if el[1] != "HP":
                            self._warn(seg_no, sid, "functional_group",
                                       "GS01 is not HP (health care claim payment/advice)")
                    elif sid == "GE":
                        if not in_gs or remit is not None:
                            raise fail("GE without a matching GS, or before SE")
                        in_gs = False
                        isa_groups += 1
                        declared = _count(el[1]) if n > 1 else None
                        if declared != gs_transactions:
                            self._warn(seg_no, sid, "envelope_count",
                                       f"GE01 says {_said(declared)} transaction sets; the "
                                       "group has "
                                       f"{gs_transactions}")
                    elif sid == "ISA":
                        if in_isa:
                            raise fail("ISA before the previous interchange ended (missing IEA)")
                        if n != 17:
                            raise fail("ISA must have 16 elements")
                        if el[16][:1] != delims.component:
                            raise fail("this interchange declares other delimiters than the "
                                       "first one "
                                       "in the file; split the file")
                        isa = el
                        in_isa = True
                        isa_groups = 0
                        stats.interchanges += 1
                    elif sid == "IEA":
                        if not in_isa or in_gs:
                            raise fail("IEA without a matching ISA, or before GE")
                        in_isa = False
                        declared = _count(el[1]) if n > 1 else None
                        if declared != isa_groups:
                            self._warn(seg_no, sid, "envelope_count",
                                       f"IEA01 says {_said(declared)} functional groups; the "
                                       f"interchange has {isa_groups}")
        stats.segments = seg_no
        stats.claims = claims_read
        stats.service_lines = lines_read
        stats.adjustments = adjustments_read
        if claim is not None or remit is not None:
            raise X12ParseError(source, seg_no, sid or None, "the file ends inside a transaction "
                                "set (no SE): it is truncated")
        if in_gs or in_isa:
            raise X12ParseError(source, seg_no, sid or None, "the file ends before its GE/IEA "
                                "trailer: it is truncated")
        if stats.transactions == 0:
            raise X12ParseError(source, seg_no or None, None, "the file holds no 835 transaction "
                                "set (no ST*835)")

    # -- segment builders -----------------------------------------------------------

    def _extra_elements(self, el: list[str], seg_no: int, length: int
                        ) -> tuple[list[str], int]:
        """Extra elements carry nothing this reader can place: say so, read the rest."""
        self._warn(seg_no, el[0], "extra_elements", f"{el[0]} has {len(el) - 1} elements; "
                   f"at most {length - 1} are defined, the extra ones were ignored")
        return el[:length], length

    def _claim(self, el: list[str], remit: Remittance, seg_no: int,
               fail: Callable[[str], X12ParseError], header_number: str | None,
               ordinal: int) -> ClaimPayment:
        n = len(el)
        if n < 5 or not el[1] or not el[2] or not el[3] or not el[4]:
            raise fail("CLP needs CLP01 (claim id), CLP02 (status), CLP03 (charge) and "
                       "CLP04 (paid)")
        cached = AMOUNT_CACHE.get
        charge, paid = cached(el[3]), cached(el[4])
        responsibility = cached(el[5]) if n > 5 else None
        if charge is None:
            try:
                charge = parse_amount(el[3])
            except ValueError:
                raise fail("CLP03 (claim charge) is not a valid amount") from None
        if paid is None:
            try:
                paid = parse_amount(el[4])
            except ValueError:
                raise fail("CLP04 (claim payment) is not a valid amount") from None
        if responsibility is None and n > 5 and el[5]:  # CLP05 is often empty
            try:
                responsibility = parse_amount(el[5])
            except ValueError:
                raise fail("CLP05 (patient responsibility) is not a valid amount") from None
        try:
            drg_weight = parse_optional_amount(el[12]) if n > 12 else None
            fraction = parse_optional_amount(el[13]) if n > 13 else None
        except ValueError:
            raise fail("CLP12/CLP13 is not a valid number") from None
        status = el[2]
        if status not in CLAIM_STATUS_CODES:
            self._warn(seg_no, "CLP", "claim_status", "CLP02 is not a claim status code of "
                       "005010X221A1; the claim is read as it is")
        if n < 12:  # CLP06..CLP11 read below may be absent
            el += _CLP_PADDING[n]
        # Positional for speed (see _service_line); order pinned by tests/test_x12_models.py.
        return ClaimPayment(
            remit, el[1], status, charge, paid, responsibility, el[6] or None, el[7] or None,
            el[8] or None, el[9] or None, el[11] or None, drg_weight, fraction, header_number,
            [], None, None, None, None, None, None, None, [], [], None, None, None, None, [], [],
            [], [], seg_no, ordinal)

    def _adjustments(self, el: list[str], fail: Callable[[str], X12ParseError]
                     ) -> list[Adjustment]:
        n = len(el)
        if n < 4 or not el[1] or not el[2] or not el[3]:
            raise fail("CAS needs a group code (CAS01), a reason (CAS02) and an amount (CAS03)")
        group = el[1]
        if group not in ADJUSTMENT_GROUPS:
            raise fail("CAS01 is not an adjustment group code (CO, PR, OA, PI or CR)")
        adjustments = []
        for base in range(2, n, 3):
            reason = el[base]
            amount_text = el[base + 1] if base + 1 < n else ""
            quantity_text = el[base + 2] if base + 2 < n else ""
            if not reason:
                if amount_text or quantity_text:
                    raise fail(f"CAS{base:02d} (reason) is empty but its amount is not")
                continue
            if not amount_text:
                raise fail(f"CAS{base + 1:02d} (amount for a reason code) is missing")
            try:
                amount = parse_amount(amount_text)
                quantity = parse_amount(quantity_text) if quantity_text else None
            except ValueError:
                raise fail(f"CAS{base + 1:02d}/CAS{base + 2:02d} is not a valid "
                           "amount or quantity") from None
            adjustments.append(Adjustment(group, reason, amount, quantity))
        return adjustments

    def _service_line(self, el: list[str], seg_no: int,
                      fail: Callable[[str], X12ParseError]) -> ServiceLine:
        n = len(el)
        component = self._component
        procedure = self._procedures.get(el[1]) if n > 1 else None
        if procedure is None and n > 1 and el[1] and component not in el[1]:
            el, n, component = self._unusual_svc01(el, seg_no, fail)
        if n < 4 or not el[2] or not el[3]:
            if n < 2 or not el[1] or (n > 2 and el[2]) or (n > 3 and el[3]):
                raise fail("SVC needs a procedure (SVC01), a charge (SVC02) and a payment "
                           "(SVC03)")
            # Neither charge nor payment: an informational line (seen in payer files).
            self._warn(seg_no, "SVC", "svc_no_amounts", "SVC02 and SVC03 are empty; the line "
                       "was read as 0.00 charged and 0.00 paid")
            el = [*el[:2], "0", "0", *el[4:]]
            n = len(el)
        if procedure is None:
            procedure = self._procedure(el[1], component, "SVC01", fail)
            if len(self._procedures) < _PROCEDURE_CACHE_LIMIT:
                self._procedures[el[1]] = procedure
        charge = AMOUNT_CACHE.get(el[2])
        paid = AMOUNT_CACHE.get(el[3])
        if charge is None or paid is None:
            try:
                charge = parse_amount(el[2])
                paid = parse_amount(el[3])
            except ValueError:
                raise fail("SVC02/SVC03 (line charge or payment) is not a valid amount") \
                    from None
        try:
            units = (AMOUNT_CACHE.get(el[5]) or parse_optional_amount(el[5])) if n > 5 else None
            original_units = parse_optional_amount(el[7]) if n > 7 else None
        except ValueError:
            raise fail("SVC05/SVC07 (units) is not a valid quantity") from None
        original = self._procedure(el[6], component, "SVC06", fail) if n > 6 and el[6] else None
        # Positional: keyword arguments cost more than the rest of this method. The order
        # is pinned by tests/test_x12_models.py.
        return ServiceLine(procedure, charge, paid, el[4] or None if n > 4 else None, units,
                           original, original_units, None, None, None, [], None, [], [], [],
                           [], seg_no)

    def _unusual_svc01(self, el: list[str], seg_no: int, fail: Callable[[str], X12ParseError]
                       ) -> tuple[list[str], int, str]:
        """Read an SVC01 written without the declared component separator.

        Adopt the one the file uses, or rejoin a composite split by the element separator.
        """
        composite, n = el[1], len(el)
        component = self._component
        if not self._component_checked:
            component = self._adopt_component(composite, seg_no)
        if component not in composite and composite.isalnum() and n > 3 and \
                len(composite) == 2:
            # SVC01 holds just the qualifier: the sender split the composite with the
            # element separator (seen in real files). Rejoin it and shift the rest.
            try:
                parse_amount(el[3])
            except ValueError:
                raise fail("SVC01 has no procedure code") from None
            self._warn(seg_no, "SVC", "svc_composite_split", "SVC01 holds only the "
                       "qualifier; the next element was read as the procedure code")
            el = ["SVC", el[1] + component + el[2], *el[3:]]
        return el, len(el), component

    def _adopt_component(self, composite: str, seg_no: int) -> str:
        """Use the separator a file really uses in SVC when it differs from ISA16.

        Seen in real files: ISA16 ``:`` with ``HC>99213``.
        """
        self._component_checked = True
        if len(composite) > 3 and composite[:2].isalnum() and not composite[2].isalnum() \
                and composite[2] not in " .-":
            self._component = composite[2]
            self._warn(seg_no, "SVC", "component_separator", "SVC01 uses a component "
                       "separator other than the one ISA16 declares; read with the one used")
        return self._component

    @staticmethod
    def _procedure(composite: str, component: str, name: str,
                   fail: Callable[[str], X12ParseError]) -> Procedure:
        parts = composite.split(component)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise fail(f"{name} needs a qualifier and a procedure code (e.g. HC:99213)")
        if len(parts) > 8:
            raise fail(f"{name} has more components than a procedure identifier allows")
        modifiers = tuple(filter(None, parts[2:6]))
        description = parts[6] if len(parts) > 6 and parts[6] else None
        return Procedure(parts[0], parts[1], modifiers, description)

    def _header_segment(self, remit: Remittance, party: Party | None, el: list[str],
                        seg_no: int, fail: Callable[[str], X12ParseError]) -> Party | None:
        """Read one segment of the remittance's header; return the current N1 party.

        BPR, TRN, N1 loops (N3, N4, PER), CUR, RDM. Each segment family has its own helper;
        CUR and RDM are not needed and leave the party as it is.
        """
        sid = el[0]
        if sid == "BPR":
            self._payment_segment(remit, el, seg_no, fail)
        elif sid == "TRN":
            n = len(el)
            if n < 3 or not el[2]:
                raise fail("TRN needs a trace number (TRN02)")
            remit.trace_number = el[2]
            remit.trace_originator = el[3] or None if n > 3 else None
        elif sid == "N1":
            return self._party_segment(remit, el, fail)
        elif party is not None and sid in ("N3", "N4", "PER"):
            self._party_detail(party, el, seg_no)
        return party

    def _payment_segment(self, remit: Remittance, el: list[str], seg_no: int,
                         fail: Callable[[str], X12ParseError]) -> None:
        """BPR: the payment's handling code, amount, credit/debit flag, method and date."""
        n = len(el)
        if n < 5 or not el[1] or not el[2]:
            raise fail("BPR needs a handling code (BPR01) and a payment amount (BPR02)")
        try:
            remit.payment_amount = parse_amount(el[2])
        except ValueError:
            raise fail("BPR02 (payment amount) is not a valid amount") from None
        remit.handling_code = el[1]
        remit.credit_debit = el[3] or None
        remit.payment_method = el[4] or None
        if n > 16 and el[16]:
            try:
                remit.payment_date = parse_date(el[16])
            except ValueError:
                # Only the deposit date is lost (DTM*405 still dates the remittance);
                # the X12 guide's own managed-care example carries such a date.
                self._warn(seg_no, "BPR", "payment_date", "BPR16 (payment date) is not a "
                           "valid date; it was left empty")

    @staticmethod
    def _party_segment(remit: Remittance, el: list[str],
                       fail: Callable[[str], X12ParseError]) -> Party | None:
        """N1: start the payer's (PR) or payee's (PE) loop; None for any other party."""
        n = len(el)
        if n < 2 or not el[1]:
            raise fail("N1 needs an entity code (N101)")
        if el[1] == "PR":
            party = remit.payer
        elif el[1] == "PE":
            party = remit.payee
        else:
            return None  # other parties of the header are not needed
        party.name = el[2] or None if n > 2 else None
        party.id_qualifier = el[3] or None if n > 3 else None
        party.identifier = el[4].strip() or None if n > 4 else None
        return party

    def _party_detail(self, party: Party, el: list[str], seg_no: int) -> None:
        """N3, N4 or PER of an N1 loop: the party's address lines, city/state/ZIP, contacts."""
        sid, n = el[0], len(el)
        if sid == "N3":
            lines = tuple(x for x in el[1:3] if x)
            previous = party.address.lines if party.address else ()
            if len(previous) >= _MAX_ADDRESS_LINES:
                # Joining tuples per N3 would cost n² on a file that repeats N3 forever.
                self._warn(seg_no, "N3", "address_lines", "more address lines (N3) than an "
                           "address holds; the extra ones were ignored")
                return
            party.address = party.address or Address()
            party.address.lines = previous + lines
        elif sid == "N4":
            party.address = party.address or Address()
            party.address.city = el[1] or None if n > 1 else None
            party.address.state = el[2] or None if n > 2 else None
            party.address.postal_code = el[3] or None if n > 3 else None
        else:  # PER
            pairs = tuple((el[i], el[i + 1]) for i in (3, 5, 7) if i + 1 < n and el[i])
            party.contacts.append(Contact(el[1] if n > 1 else "", el[2] or None if n > 2
                                          else None, pairs))

    @staticmethod
    def _provider_summary(summary: ProviderSummary, el: list[str],
                          fail: Callable[[str], X12ParseError]) -> None:
        n = len(el)
        try:
            summary.provider_id = el[1] or None if n > 1 else None
            summary.facility_type = el[2] or None if n > 2 else None
            summary.fiscal_period_end = parse_date(el[3]) if n > 3 and el[3] else None
            summary.claim_count = parse_optional_amount(el[4]) if n > 4 else None
            summary.total_charge = parse_optional_amount(el[5]) if n > 5 else None
        except ValueError:
            raise fail("TS3 has an invalid date, count or amount") from None

    def _provider_adjustments(self, el: list[str], fail: Callable[[str], X12ParseError]
                              ) -> list[ProviderAdjustment]:
        n = len(el)
        if n < 5 or not el[1]:
            raise fail("PLB needs a provider id, a fiscal period date and an adjustment")
        try:
            period = parse_date(el[2]) if el[2] else None
        except ValueError:
            raise fail("PLB02 (fiscal period date) is not a valid date") from None
        out = []
        for i in range(3, n, 2):
            if not el[i]:
                continue
            reason, _, reference = el[i].partition(self._component)
            if i + 1 >= n or not el[i + 1]:
                raise fail(f"PLB{i + 1:02d} (adjustment amount) is missing")
            try:
                amount = parse_amount(el[i + 1])
            except ValueError:
                raise fail(f"PLB{i + 1:02d} (adjustment amount) is not a valid amount") from None
            out.append(ProviderAdjustment(el[1], period, reason, reference or None, amount))
        return out

    # -- checks ---------------------------------------------------------------------

    def _check_version(self, version: str, seg_no: int) -> None:
        if version.startswith("005010X221") or version in self._versions_seen:
            return
        self._versions_seen.add(version)
        if version.startswith("004010X091") or version.startswith("00401"):
            self._warn(seg_no, "ST", "version_4010", "004010X091A1 remittance: read with the "
                       "005010 rules (fields added in 5010 will be empty)")
        elif not version:
            self._warn(seg_no, "ST", "version_unknown", "no implementation guide version "
                       "(no GS08 or ST03); read as 005010X221A1")
        else:
            self._warn(seg_no, "ST", "version", "unexpected implementation guide version; "
                       "read as 005010X221A1")

    def _finish_claim(self, claim: ClaimPayment) -> ClaimPayment:
        """Balance the claim and its lines; report differences as warnings."""
        # Runs for every claim: plain loops, each Decimal operation counted.
        line_total = _ZERO
        for number, line in enumerate(claim.lines, 1):
            adjusted = _ZERO
            for adjustment in line.adjustments:
                adjusted += adjustment.amount
            if line.charge - line.paid != adjusted:
                self._line_unbalanced(claim, number, line, adjusted)
            line_total += adjusted
        for adjustment in claim.adjustments:
            line_total += adjustment.amount
        if claim.charge - claim.paid != line_total:
            self._warn(claim.segment_number, "CLP", "claim_unbalanced",
                       f"claim #{claim.ordinal}: charge − paid is {claim.charge - claim.paid} "
                       f"but claim and line adjustments add up to {line_total}")
        self._claim_payments += claim.paid
        return claim

    def _line_unbalanced(self, claim: ClaimPayment, number: int, line: ServiceLine,
                         adjusted: Decimal) -> None:
        # The line's 1-based position comes from the caller's loop: looking it up here
        # (list.index, a dataclass comparison per line before it) made a claim of n
        # unbalanced lines cost n² comparisons.
        self._warn(line.segment_number, "SVC", "line_unbalanced",
                   f"claim #{claim.ordinal} line {number}: charge − paid is "
                   f"{line.charge - line.paid} but the line adjustments add up to {adjusted}")

    def _check_payment_balance(self, remit: Remittance, seg_no: int) -> None:
        paid = self._claim_payments
        self._claim_payments = _ZERO
        if remit.payment_amount is None:
            self._warn(seg_no, "SE", "no_bpr", "the transaction set has no BPR payment segment")
            return
        plb = sum((a.amount for a in remit.provider_adjustments), _ZERO)
        if remit.payment_amount != paid - plb:
            self._warn(seg_no, "SE", "payment_unbalanced",
                       f"ST {remit.transaction_control_number}: BPR02 is "
                       f"{remit.payment_amount} but claim payments less provider "
                       f"adjustments come to {paid - plb}")


def read_835(paths: list[str | Path] | tuple[str | Path, ...], *,
             on_warning: Callable[[ParseWarning], None] | None = None
             ) -> Iterator[ClaimPayment]:
    """Read several 835 files in turn, yielding their claims.

    Stops at the first bad file; use :mod:`agent.ingest` to read a batch where one bad file
    must not stop the rest.
    """
    for path in paths:
        yield from Remittance835Reader.open(path, on_warning=on_warning)


def _count(text: str) -> int | None:
    """A control count (SE01, GE01, IEA01): ASCII digits, at most 10 of them."""
    if 0 < len(text) <= 10 and text.isascii() and text.isdigit():
        return int(text)
    return None


def _said(count: int | None) -> str:
    return "nothing valid" if count is None else str(count)

