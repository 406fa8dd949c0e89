//! The organization policy file, `xray-cmk.toml`: parsing, validation with locations, defaults.
