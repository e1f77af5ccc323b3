"""The DataOps vault: ``DATAOPS_VAULT(A.B.C)`` values and the vault file they are read from.

DataOps builds the vault per pipeline as a YAML tree with upper-case keys; its own encryption is not public, so
the reader is swappable (:class:`VaultReader`) and the default reads a plain YAML or JSON file. Errors name the
path that is missing, never a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from eltops.errors import ConfigError
from eltops.secrets._masking import MASKER, Secret

DEFAULT_SECRETS_DIR = "/secrets"
_VAULT_REFERENCE = re.compile(r"^\s*DATAOPS_VAULT\(\s*([^()\s]+)\s*\)\s*$")


class VaultReader(Protocol):
    """Anything that answers a dotted vault path with a string."""

    def get(self, path: str) -> str: ...

    def has(self, path: str) -> bool: ...


def vault_file_from_env(env: Mapping[str, str]) -> Path:
    """``DATAOPS_VAULT_FILE`` if set, else ``$DATAOPS_SECRETS_DIR/vault.yml`` (``/secrets`` by default)."""
    if env.get("DATAOPS_VAULT_FILE"):
        return Path(env["DATAOPS_VAULT_FILE"])
    return Path(env.get("DATAOPS_SECRETS_DIR") or DEFAULT_SECRETS_DIR) / "vault.yml"


class FileVault:
    """A vault read from a YAML or JSON file, loaded on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tree: Mapping[str, Any] | None = None

    def _load(self) -> Mapping[str, Any]:
        if self._tree is None:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ConfigError(
                    f"the DataOps vault file {self.path} does not exist "
                    "(set DATAOPS_VAULT_FILE or DATAOPS_SECRETS_DIR to where it is)"
                ) from None
            except OSError as exc:
                raise ConfigError(f"cannot read the DataOps vault file {self.path}: {exc.strerror}") from None
            import yaml  # only a vault reference needs the parser

            try:
                tree = yaml.safe_load(text)  # JSON is YAML too
            except yaml.YAMLError:
                # the parser's message quotes the offending line, which may hold a secret: say only where
                raise ConfigError(f"the DataOps vault file {self.path} is not valid YAML or JSON") from None
            if tree is None:
                tree = {}
            if not isinstance(tree, Mapping):
                raise ConfigError(f"the DataOps vault file {self.path} must hold a mapping at its top level")
            self._tree = tree
        return self._tree

    def _lookup(self, path: str) -> Any:
        node: Any = self._load()
        for key in path.split("."):
            if not isinstance(node, Mapping) or key not in node:
                return _MISSING
            node = node[key]
        return node

    def has(self, path: str) -> bool:
        return self._lookup(path) is not _MISSING

    def get(self, path: str) -> str:
        value = self._lookup(path)
        if value is _MISSING:
            raise ConfigError(f"the DataOps vault {self.path} has no value at {path}")
        if isinstance(value, (Mapping, list)):
            raise ConfigError(f"the DataOps vault path {path} in {self.path} is a section, not a value")
        if value is None:
            raise ConfigError(f"the DataOps vault path {path} in {self.path} is empty")
        return str(value)


_MISSING = object()


def _vault_problem(raw: str) -> str:
    """What is wrong with a value that starts like ``DATAOPS_VAULT(`` (never quoting it: it may hold a secret)."""
    text = raw.strip()
    inner, closed, after = text[len("DATAOPS_VAULT(") :].partition(")")
    expected = "; write it as DATAOPS_VAULT(PATH.TO.VALUE), e.g. DATAOPS_VAULT(FIVETRAN.PROD.API_KEY)"
    if not text.startswith("DATAOPS_VAULT("):
        problem = "DATAOPS_VAULT must be written in capitals"
    elif not closed:
        problem = "it has no closing parenthesis"
    elif after.strip():
        problem = "there is text after the closing parenthesis"
    elif not inner.strip():
        problem = "the path between the parentheses is empty"
    else:
        problem = "the path may not hold spaces or parentheses"
    return problem + expected


class EnvReader:
    """Reads configuration variables, replacing whole-value ``DATAOPS_VAULT(path)`` references from the vault.

    Every value that comes from the vault is masked in all output, whatever variable it fills.
    """

    def __init__(self, env: Mapping[str, str], vault: VaultReader | None = None) -> None:
        self.env = env
        self.vault: VaultReader = vault if vault is not None else FileVault(vault_file_from_env(env))

    def get(self, name: str) -> str | None:
        """The variable's value (vault references resolved), or None when unset or empty."""
        raw = self.env.get(name)
        if raw is None or raw == "":
            return None
        match = _VAULT_REFERENCE.match(raw)
        if match is None:
            if raw.lstrip().upper().startswith("DATAOPS_VAULT("):
                raise ConfigError(f"{name} is a malformed vault reference: {_vault_problem(raw)}")
            return raw
        value = self.vault.get(match.group(1))
        MASKER.add(value)
        return value

    def secret(self, name: str) -> Secret | None:
        value = self.get(name)
        return None if value is None else Secret(value)

    def flag(self, name: str) -> bool:
        """DataOps convention: a flag is set when it has any non-empty value."""
        return bool(self.env.get(name))

    def vault_secret(self, *paths: str) -> Secret:
        """The first of ``paths`` the vault has, as a secret."""
        for path in paths:
            if self.vault.has(path):
                return Secret(self.vault.get(path))
        raise ConfigError(f"the DataOps vault has no value at {' or '.join(paths)}")
