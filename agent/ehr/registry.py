"""Which EHR adapter a source string opens: an explicit registry keyed by scheme.

A source is ``scheme:rest``, e.g. ``fhir-dir:fixtures/fhir``. The scheme picks a factory;
the factory receives ``rest`` and returns an :class:`~agent.ehr.protocols.EHRAdapter`. A
factory registered with ``settings=True`` also receives the configuration file's
``[ehr.<scheme>]`` table (``fhir`` reads ``[ehr.fhir]``); a table given for an adapter that
takes none is an error, so a misspelt setting is never silently ignored.

Adapters are registered in one way only, :meth:`AdapterRegistry.register`:

* built-ins (``fhir-dir``, ``docs-dir``, ``fhir``) by :func:`register_builtin_adapters`;
* third parties through the entry-point group ``denial_appeal_agent.ehr_adapters``
  (name = scheme, value = factory), discovered on the first look-up of a scheme that is
  not registered yet and loaded only when their scheme is asked for;
* code (tests, embedding applications) by calling :func:`register_adapter`.

No class is discovered by introspection: a scheme exists because someone registered it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from agent.ehr.docs_dir import DocsDirAdapter
from agent.ehr.fhir_dir import FhirDirAdapter
from agent.ehr.protocols import EHRAdapter, EHRSourceError

if TYPE_CHECKING:
    from agent.ehr.fhir_rest import FhirRestAdapter

ENTRY_POINT_GROUP = "denial_appeal_agent.ehr_adapters"
"""The entry-point group third-party adapters declare themselves in."""

AdapterFactory = Callable[[str], EHRAdapter]
"""Builds an adapter from the part of the source string after ``scheme:``."""

SettingsAdapterFactory = Callable[[str, Mapping[str, Any]], EHRAdapter]
"""Builds an adapter from ``rest`` and the ``[ehr.<scheme>]`` table (empty when none)."""

EHRTables = Mapping[str, Mapping[str, Any]]
"""The configuration's ``[ehr]`` table: settings by scheme (``AppConfig.ehr``)."""

EntryPointFinder = Callable[[str], Iterable[EntryPoint]]
"""Lists the entry points of a group (``importlib.metadata.entry_points`` by default)."""

_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]*")

logger = logging.getLogger(__name__)


def installed_entry_points(group: str) -> Iterable[EntryPoint]:
    """The entry points installed distributions declare in ``group``."""
    return entry_points(group=group)


class AdapterRegistry:
    """Adapter factories by scheme, plus the entry points not loaded yet."""

    def __init__(self, *, entry_point_group: str | None = ENTRY_POINT_GROUP,
                 find_entry_points: EntryPointFinder = installed_entry_points) -> None:
        """``entry_point_group=None`` makes a registry that never looks at entry points."""
        self._factories: dict[str, AdapterFactory] = {}
        self._with_settings: dict[str, SettingsAdapterFactory] = {}
        self._group = entry_point_group
        self._find_entry_points = find_entry_points
        self._pending: dict[str, EntryPoint] | None = None  # None: not discovered yet

    def register(self, scheme: str, factory: AdapterFactory, *, replace: bool = False) -> None:
        """Make ``scheme:...`` sources open with ``factory``.

        Registering the same factory twice is harmless; registering a different one for a
        taken scheme raises ``ValueError`` unless ``replace`` is true.
        """
        self._register(scheme, factory, replace)
        self._with_settings.pop(scheme, None)

    def register_with_settings(self, scheme: str, factory: SettingsAdapterFactory, *,
                               replace: bool = False) -> None:
        """Like :meth:`register`, for a factory that takes ``[ehr.<scheme>]`` too."""
        self._register(scheme, functools.partial(_without_settings, factory), replace,
                       same=self._with_settings.get(scheme) is factory)
        self._with_settings[scheme] = factory

    def _register(self, scheme: str, factory: AdapterFactory, replace: bool,
                  same: bool = False) -> None:
        if not _SCHEME.fullmatch(scheme):
            raise ValueError(f"invalid adapter scheme {scheme!r}: use lower-case letters, "
                             "digits, '+', '-' or '.', starting with a letter")
        if not callable(factory):
            raise TypeError(f"the factory for scheme {scheme!r} is not callable")
        current = self._factories.get(scheme)
        if current is not None and current is not factory and not same and not replace:
            raise ValueError(f"an EHR adapter is already registered for scheme {scheme!r}")
        self._factories[scheme] = factory

    def schemes(self) -> tuple[str, ...]:
        """Every scheme that can be opened: registered ones and entry points not loaded yet."""
        return tuple(sorted({*self._factories, *self._entry_points()}))

    def factory(self, scheme: str) -> AdapterFactory:
        """The factory for ``scheme``, loading its entry point on first use."""
        if scheme in self._factories:
            return self._factories[scheme]
        pending = self._entry_points()
        if scheme not in pending:
            raise EHRSourceError(f"unknown EHR source scheme {scheme!r}; "
                                 f"known schemes: {self._known()}")
        self.register(scheme, _load_factory(pending[scheme]))
        del pending[scheme]  # only once loaded: a broken plugin fails the same way each time
        return self._factories[scheme]

    def open(self, source: str, settings: EHRTables | None = None) -> EHRAdapter:
        """The adapter for a ``scheme:rest`` source string.

        ``settings`` is the configuration's ``[ehr]`` table; the scheme's own table goes to
        a factory registered with settings, and is refused for any other.
        """
        scheme, sep, rest = source.partition(":")
        scheme = scheme.strip().lower()  # schemes are case-insensitive, as in URIs
        if not sep or not scheme:
            raise EHRSourceError(f"an EHR source is written 'scheme:location' (e.g. "
                                 f"'fhir-dir:fixtures/fhir'); known schemes: {self._known()}")
        factory = self.factory(scheme)
        table = (settings or {}).get(scheme)
        if scheme in self._with_settings:
            adapter = self._with_settings[scheme](rest, table or {})
        elif table:
            raise EHRSourceError(f"the configuration has an [ehr.{scheme}] table, but the "
                                 f"{scheme} adapter takes no settings")
        else:
            adapter = factory(rest)
        if not isinstance(adapter, EHRAdapter):
            raise EHRSourceError(f"the factory for scheme {scheme!r} did not return an EHR "
                                 "adapter (an object with chart_for)")
        return adapter

    def _known(self) -> str:
        return ", ".join(self.schemes()) or "(none)"

    def _entry_points(self) -> dict[str, EntryPoint]:
        """Discover the group once; explicit registrations win over an entry point's name."""
        if self._pending is None:
            found = self._find_entry_points(self._group) if self._group else ()
            self._pending = {}
            for entry_point in sorted(found, key=lambda e: (e.name, e.value)):
                if self._accepts(entry_point, self._pending):
                    self._pending[entry_point.name] = entry_point
        return self._pending

    def _accepts(self, entry_point: EntryPoint, pending: dict[str, EntryPoint]) -> bool:
        name = entry_point.name
        if name in self._factories and _same_factory(entry_point, self._factories[name]):
            return False  # the built-in declared as an entry point too: nothing to warn about
        if name in self._factories or name in pending:
            logger.warning("EHR adapter entry point %r (%s) ignored: scheme already taken",
                           name, entry_point.value)
            return False
        if not _SCHEME.fullmatch(name):
            logger.warning("EHR adapter entry point %r ignored: not a valid scheme", name)
            return False
        return True


def _without_settings(factory: SettingsAdapterFactory, rest: str) -> EHRAdapter:
    return factory(rest, {})


def _same_factory(entry_point: EntryPoint, factory: AdapterFactory) -> bool:
    """Whether an entry point names ``factory`` itself (``module:QualName``)."""
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", None)
    return entry_point.value.replace(" ", "") == f"{module}:{qualname}"


def _load_factory(entry_point: EntryPoint) -> AdapterFactory:
    """Import an entry point's factory; a broken plugin is a source error, not a crash."""
    try:
        factory = entry_point.load()
    except Exception as exc:  # any import-time failure of a third-party package
        raise EHRSourceError(f"the EHR adapter for scheme {entry_point.name!r} "
                             f"({entry_point.value}) could not be loaded: "
                             f"{type(exc).__name__}: {exc}") from exc
    if not callable(factory):
        raise EHRSourceError(f"the EHR adapter entry point {entry_point.name!r} "
                             f"({entry_point.value}) is not callable")
    loaded: AdapterFactory = factory
    return loaded


def register_builtin_adapters(registry: AdapterRegistry) -> None:
    """Register the adapters that ship with the agent, exactly as a plugin would be."""
    registry.register("fhir-dir", FhirDirAdapter)
    registry.register("docs-dir", DocsDirAdapter)
    registry.register_with_settings("fhir", open_fhir_rest)


def open_fhir_rest(location: str, table: Mapping[str, Any]) -> FhirRestAdapter:
    """``fhir:BASE_URL`` (agent/ehr/fhir_rest/), imported only when a run asks for it."""
    from agent.ehr.fhir_rest import open_fhir_rest as open_rest

    return open_rest(location, table)


@functools.cache
def default_registry() -> AdapterRegistry:
    """The process-wide registry: built-ins plus installed entry points."""
    registry = AdapterRegistry()
    register_builtin_adapters(registry)
    return registry


def register_adapter(scheme: str, factory: AdapterFactory) -> None:
    """Register ``factory`` for ``scheme`` in the default registry."""
    default_registry().register(scheme, factory)


def open_adapter(source: str, settings: EHRTables | None = None) -> EHRAdapter:
    """Open a ``scheme:rest`` source with the default registry (and ``[ehr]`` settings)."""
    return default_registry().open(source, settings)
