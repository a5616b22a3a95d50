//! One module per subcommand.

pub(crate) mod demo;
pub(crate) mod keys;
pub(crate) mod listen;
pub(crate) mod migrate;
pub(crate) mod serve;
pub(crate) mod trigger;
