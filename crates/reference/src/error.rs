//! Errors, with the exact texts Docker prints, because clients and scripts
//! match on them.

use thiserror::Error;

/// Why a reference, tag or digest was rejected.
///
/// The `Display` texts are the ones from `github.com/distribution/reference`
/// and `github.com/opencontainers/go-digest`, which the Docker daemon passes
/// through unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Error)]
pub enum ReferenceError {
    /// The string does not fit the reference grammar at all.
    #[error("invalid reference format")]
    InvalidFormat,

    /// A tag given on its own (e.g. to [`crate::Reference::with_tag`]) is not valid.
    #[error("invalid tag format")]
    InvalidTag,

    /// The raw parser found uppercase letters where only lowercase is allowed.
    #[error("repository name must be lowercase")]
    NameContainsUppercase,

    /// The normalising parser found uppercase letters in the repository path;
    /// carries the path as distribution reports it (e.g. `library/Alpine`).
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    RepositoryNameUppercase(String),

    /// Empty input to the raw parser.
    #[error("repository name must have at least one component")]
    NameEmpty,

    /// The repository path is longer than [`crate::NAME_TOTAL_LENGTH_MAX`].
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,

    /// [`crate::Reference::parse_named`] was given a non-canonical string.
    #[error("repository name must be canonical")]
    NameNotCanonical,

    /// A bare 64-hex string was given where a name is required; it is
    /// ambiguous with an image ID, so Docker refuses it.
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexRepositoryName(String),

    /// go-digest: malformed digest.
    #[error("invalid checksum digest format")]
    DigestInvalidFormat,

    /// go-digest: the hex part has the wrong length for its algorithm.
    #[error("invalid checksum digest length")]
    DigestInvalidLength,

    /// go-digest: well-formed, but the algorithm is not sha256/sha384/sha512.
    #[error("unsupported digest algorithm")]
    DigestUnsupported,
}
