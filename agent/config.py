"""Run configuration: thresholds, the payer table, the practice's letterhead. Optional TOML.

Defaults are the documented facts of docs/domain.md#appeal-deadlines; facts marked
unconfirmed there are configuration here, flagged ``confirmed = false``
(docs/domain.md#configurable-facts). The practice settings ship as visible placeholders
(``Your Practice Name``): a letter is not approved while one is left
(agent/letters/unfinished.py).
"""

from __future__ import annotations

import tomllib
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


class DeadlineRule(BaseModel):
    """One row of the payer table: a payer's first-level appeal window and where it goes.

    The rows are ``[[deadlines]]`` in the TOML file; the first that matches a denial's
    payer gives both its appeal deadline (agent/triage/deadlines.py) and the appeal
    details its letter shows (address, fax, portal, level name; each optional).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    filing_indicators: tuple[str, ...] = Field((), description="CLP06 values this rule "
                                               "covers (MA/MB Medicare); empty = any.")
    payer_ids: tuple[str, ...] = ()
    payer_name_contains: tuple[str, ...] = Field((), description="Case-insensitive name "
                                                 "fragments, e.g. 'UNITEDHEALTHCARE'.")
    days: int = Field(gt=0)
    counted_from: Literal["remittance_date", "presumed_receipt"] = "remittance_date"
    presumed_receipt_days: int = Field(5, ge=0, description="Medicare presumes a notice is "
                                       "received 5 days after its date.")
    source: str = ""
    confirmed: bool = True
    appeals_address: tuple[str, ...] = Field((), description="Where the payer takes written "
                                             "appeals, one line each (e.g. 'Attn: Provider "
                                             "Appeals', 'PO Box 4410'); empty = not known.")
    appeals_fax: str | None = Field(None, min_length=1, description="The payer's appeals "
                                    "fax number.")
    appeals_portal_url: str | None = Field(None, pattern=r"^https?://\S+$",
                                           description="Where the payer takes appeals "
                                           "online.")
    level_name: str | None = Field(None, min_length=1, description="What the payer calls "
                                   "this appeal level, e.g. 'Level 1 provider appeal'.")
    policies: dict[str, str] = Field(default_factory=dict, description="Playbook id -> the "
                                     "payer's own policy a letter of that playbook cites "
                                     "(name, number and section); a playbook without one "
                                     "leaves a slot the auditor must fill before approval.")

    def matches(self, filing_indicator: str | None, payer_id: str | None,
                payer_name: str | None) -> bool:
        """Whether this rule applies to a denial from this payer."""
        if self.filing_indicators and filing_indicator not in self.filing_indicators:
            return False
        if self.payer_ids and payer_id not in self.payer_ids:
            return False
        if self.payer_name_contains:
            name = (payer_name or "").upper()
            if not any(fragment.upper() in name for fragment in self.payer_name_contains):
                return False
        return True


DEFAULT_DEADLINES: tuple[DeadlineRule, ...] = (
    DeadlineRule(name="Medicare Part A/B redetermination", filing_indicators=("MA", "MB"),
                 days=120, counted_from="presumed_receipt",
                 source="42 CFR 405.942; NGS/Noridian appeal tables "
                 "(docs/domain.md#appeal-deadlines)"),
    DeadlineRule(name="Medicare Advantage plan reconsideration", filing_indicators=("16",),
                 days=65, source="42 CFR 422.582 per muni.health "
                 "(docs/domain.md#appeal-deadlines)",
                 confirmed=False),
    DeadlineRule(name="UnitedHealthcare commercial", payer_name_contains=("UNITEDHEALTHCARE",
                 "UNITED HEALTHCARE"), days=65, source="prospyrmed.com "
                 "(docs/domain.md#appeal-deadlines); the contract governs", confirmed=False),
    DeadlineRule(name="Commercial / ERISA group health (default)", days=180,
                 source="29 CFR 2560.503-1 (at least 180 days); Aetna, Cigna, many BCBS "
                 "plans (docs/domain.md#appeal-deadlines); the contract governs"),
)
"""First match wins; the last rule is the default for any payer."""


class LetterSettings(BaseModel):
    """The ``[letter]`` table: the practice's letterhead, who signs, how the payer replies.

    Every field an approved letter needs ships as a visible placeholder (``Your Practice
    Name``, ``(000) 000-0000``...): approval is refused while one is left, in the settings
    or in a letter's text (agent/letters/unfinished.py, which also checks the NPI's check
    digit and the tax id's form).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    practice_name: str = Field("Your Practice Name", min_length=1)
    address_lines: tuple[str, ...] = Field(("Street Address", "City, ST 00000"), min_length=1,
                                           description="The practice's mailing address, "
                                           "one line each.")
    contact_name: str = Field("Billing Office", description="Who the payer asks questions.")
    contact_phone: str = Field("(000) 000-0000", min_length=1, description="The practice's "
                               "phone (letterhead and questions).")
    fax: str | None = Field(None, min_length=1, description="The practice's fax, if any.")
    contact_email: str | None = None
    npi: str = Field("0000000000", description="The practice's (billing) NPI, 10 digits "
                     "with a valid check digit.")
    tax_id: str = Field("00-0000000", description="The practice's federal tax id (EIN), "
                        "NN-NNNNNNN.")
    signature_name: str = Field("Your Name", min_length=1)
    signature_title: str = "Revenue Cycle Appeals"
    signature_credentials: str | None = Field(None, min_length=1, description="Written "
                                              "after the name, e.g. 'CPC'.")
    letterhead_docx: Path | None = Field(None, description="The practice's letterhead, a "
                                         "Word .docx whose headers, footers, styles and page "
                                         "setup every exported DOCX takes (its body is "
                                         "dropped); in a configuration file, relative to "
                                         "that file's folder. None = a plain page.")


class ReviewSettings(BaseModel):
    """The ``[review]`` table: who the review commands act as."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str | None = Field(None, min_length=1, description="The user (added with "
                             "`appeals users add`) that `appeals review` acts as; the "
                             "APPEALS_USER environment variable overrides it.")


class AppConfig(BaseModel):
    """Everything a run can be configured with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    high_dollar_threshold: Decimal = Field(Decimal("500"), ge=0, description="A denial of "
                                           "at least this many dollars is 'high'.")
    document_window_days: int = Field(3, ge=0, description="Notes dated within ± this many "
                                      "days of the service date are gathered.")
    deadlines: tuple[DeadlineRule, ...] = Field(DEFAULT_DEADLINES, description="The payer "
                                                "table ([[deadlines]]): first match wins.")
    letter: LetterSettings = LetterSettings()
    ncci_ptp_files: tuple[Path, ...] = Field((), description="CMS NCCI procedure-to-"
                                             "procedure tables (CSV) to load; empty = the "
                                             "subset shipped with the package.")
    review: ReviewSettings = ReviewSettings()
    ehr: dict[str, dict[str, Any]] = Field(default_factory=dict, description="The settings "
                                           "of the EHR adapter of each scheme, "
                                           "[ehr.<scheme>] (e.g. [ehr.fhir] for --ehr "
                                           "fhir:URL), validated by that adapter when a run "
                                           "opens it (agent/ehr/registry.py).")

    @classmethod
    def load(cls, path: str | Path | None) -> AppConfig:
        """Defaults, overridden by a TOML file when one is given.

        The file's ``[llm]`` table belongs to :class:`agent.llm.settings.LLMSettings` and
        its ``[defaults]`` table to the command line's option defaults. A relative
        ``letterhead_docx`` is read from the file's folder; it must be a readable Word
        document (:func:`check_letterhead`).

        Raises:
            OSError: The file cannot be read.
            ValueError: The file is not valid TOML or does not validate (a pydantic
                ``ValidationError``), or its ``letterhead_docx`` cannot be used (one line,
                naming the setting).
        """
        if path is None:
            return cls()
        with open(path, "rb") as f:
            values = tomllib.load(f)
        values.pop("llm", None)
        values.pop("defaults", None)
        config = cls.model_validate(values)
        letterhead = config.letter.letterhead_docx
        if letterhead is None:
            return config
        letterhead = Path(path).absolute().parent / letterhead.expanduser()
        check_letterhead(letterhead)
        return config.model_copy(update={"letter": config.letter.model_copy(
            update={"letterhead_docx": letterhead})})


_WORD_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
"""The content type of a .docx's main part (python-docx opens no other)."""


def check_letterhead(path: Path) -> None:
    """Raise ``ValueError`` (one line, naming the setting) unless ``path`` can be a letterhead.

    It must be a readable file whose package declares a Word document (a .docx, not a
    .dotx or .docm). Whether python-docx can use it is known when a letter is exported
    (``ReviewActions.export``).

    Raises:
        ValueError: The file is missing, unreadable, or not a Word .docx.
    """
    try:
        with open(path, "rb") as handle, zipfile.ZipFile(handle) as package:
            word = _WORD_MAIN in package.read("[Content_Types].xml")
    except FileNotFoundError:
        problem = "no such file"
    except IsADirectoryError:
        problem = "a folder, not a Word document (.docx)"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or type(exc).__name__})"
    except (KeyError, zipfile.BadZipFile, EOFError):  # not a zip, or not a package
        problem = "not a Word document (.docx)"
    else:
        if word:
            return
        problem = "not a Word document (.docx)"
    raise ValueError(f"[letter] letterhead_docx {path}: {problem}")


class EnvOverFile(BaseSettings):
    """Settings read from the environment first, then from a table of the TOML file.

    The table's values are passed in as the constructor's (init) values; an environment
    variable overrides them. Neither ``.env`` files nor secret folders are read.
    """

    @classmethod
    def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment first, then the file's table (passed in as init)."""
        return env_settings, init_settings
