"""Secrets: the DataOps vault, the ``Secret`` wrapper, and the masker that keeps their values out of all output."""

from eltops.secrets._masking import MASKER, MaskingFilter, Secret, SecretMasker
from eltops.secrets._vault import (
    DEFAULT_SECRETS_DIR,
    EnvReader,
    FileVault,
    VaultReader,
    vault_file_from_env,
)

__all__ = [
    "DEFAULT_SECRETS_DIR",
    "MASKER",
    "EnvReader",
    "FileVault",
    "MaskingFilter",
    "Secret",
    "SecretMasker",
    "VaultReader",
    "vault_file_from_env",
]
