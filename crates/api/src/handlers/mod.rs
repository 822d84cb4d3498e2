//! One module per resource; each handler turns a request into engine calls
//! and the engine's answer into Docker's JSON.

pub(crate) mod archive;
pub(crate) mod containers;
pub(crate) mod images;
pub(crate) mod lifecycle;
pub(crate) mod ops;
pub(crate) mod system;
