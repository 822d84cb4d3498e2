//! Image references with the exact semantics of Docker's
//! `github.com/distribution/reference` package: normalisation of familiar
//! names (`alpine` → `docker.io/library/alpine`), the reference grammar, and
//! the error texts Docker reports.
//!
//! The grammar is small, so it is recognised by a hand-written parser (the
//! private `grammar` module) rather than regexes; the crate stays pure and
//! dependency-free.

mod digest;
mod error;
mod grammar;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub use digest::Digest;
pub use error::ReferenceError;

/// Registry that familiar names belong to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Legacy name of Docker Hub, rewritten to [`DEFAULT_DOMAIN`].
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Namespace of official images on Docker Hub.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// Tag assumed when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// Longest allowed repository path (the part after the domain), in bytes.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Whether `s` is a valid tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(s: &str) -> bool {
    grammar::is_tag(s)
}

/// Whether `s` is a bare image ID: exactly 64 lowercase hex digits.
pub fn is_identifier(s: &str) -> bool {
    grammar::is_identifier(s)
}

/// A named image reference: domain, repository path, and optionally a tag
/// and/or a digest.
///
/// Values built by [`Reference::parse_normalized`] are normalised: the domain
/// is filled in (`docker.io` by default) and official images get `library/`.
/// One quirk is kept from distribution: a first component that looks like a
/// domain but is not a valid one (`foo_bar.com/x`) leaves the domain empty
/// and the whole name as the path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses a reference as the Docker CLI and API accept it, filling in the
    /// default domain and `library/` namespace (`ParseNormalizedNamed`).
    pub fn parse_normalized(s: &str) -> Result<Reference, ReferenceError> {
        if grammar::is_identifier(s) {
            return Err(ReferenceError::HexRepositoryName(s.to_owned()));
        }
        let (domain, remainder) = split_docker_domain(s);
        // Distribution looks for uppercase only up to the first ':' (which
        // may be inside a digest), and reports that slice verbatim.
        let remote = remainder.split(':').next().unwrap_or_default();
        if remote.to_lowercase() != remote {
            return Err(ReferenceError::RepositoryNameUppercase(remote.to_owned()));
        }
        parse_raw(&format!("{domain}/{remainder}"))
    }

    /// Like [`Reference::parse_normalized`], but the input must already be
    /// in canonical form (`ParseNamed`).
    pub fn parse_named(s: &str) -> Result<Reference, ReferenceError> {
        let r = Reference::parse_normalized(s)?;
        if r.to_string() != s {
            return Err(ReferenceError::NameNotCanonical);
        }
        Ok(r)
    }

    /// Parses and normalises, then keeps only the digest if both a tag and a
    /// digest are present, and adds `latest` if neither is (`ParseDockerRef`).
    /// This is what the daemon uses to decide what to pull or look up.
    pub fn parse_docker_ref(s: &str) -> Result<Reference, ReferenceError> {
        let mut r = Reference::parse_normalized(s)?;
        if r.digest.is_some() {
            r.tag = None;
        }
        Ok(r.with_default_tag())
    }

    /// The registry domain, e.g. `docker.io` or `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry, e.g. `library/alpine`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Whether there is neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The full repository name, e.g. `docker.io/library/alpine`.
    pub fn name(&self) -> String {
        if self.domain.is_empty() { self.path.clone() } else { format!("{}/{}", self.domain, self.path) }
    }

    /// The name as users write it: `docker.io/` is dropped, and so is
    /// `library/` when nothing is nested below it (`alpine`, `user/app`,
    /// `localhost:5000/a/b`).
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_owned(),
            _ => self.path.clone(),
        }
    }

    /// [`familiar_name`](Reference::familiar_name) plus `:tag` and `@digest`
    /// as present; the form `docker images` and `docker ps` show.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    /// Adds the `latest` tag if there is neither tag nor digest (`TagNameOnly`).
    pub fn with_default_tag(mut self) -> Reference {
        if self.is_name_only() {
            self.tag = Some(DEFAULT_TAG.to_owned());
        }
        self
    }

    /// Sets the tag, keeping any digest (`WithTag`).
    pub fn with_tag(mut self, tag: &str) -> Result<Reference, ReferenceError> {
        if !grammar::is_tag(tag) {
            return Err(ReferenceError::InvalidTag);
        }
        self.tag = Some(tag.to_owned());
        Ok(self)
    }

    /// Sets the digest, keeping any tag (`WithDigest`).
    pub fn with_digest(mut self, digest: Digest) -> Reference {
        self.digest = Some(digest);
        self
    }

    /// The bare repository, with tag and digest removed (`TrimNamed`).
    pub fn without_tag_or_digest(&self) -> Reference {
        Reference { domain: self.domain.clone(), path: self.path.clone(), tag: None, digest: None }
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest.as_str());
        }
    }
}

/// The canonical string: `docker.io/library/alpine:latest`,
/// `localhost:5000/a/b:t@sha256:…`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

/// Same as [`Reference::parse_normalized`].
impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse_normalized(s)
    }
}

/// What a user may name an image by: an ID or a reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AnyReference {
    /// A bare 64-hex ID (stored as `sha256:<hex>`) or a full digest.
    Id(Digest),
    /// Anything else, normalised.
    Named(Reference),
}

/// Parses an image ID, a digest or a familiar name (`ParseAnyReference`).
///
/// Note that a short or malformed digest such as `sha256:abc` is not an
/// error here: like in Docker it falls through to the name parser and
/// becomes `docker.io/library/sha256:abc`.
pub fn parse_any(s: &str) -> Result<AnyReference, ReferenceError> {
    if grammar::is_identifier(s) {
        return Ok(AnyReference::Id(Digest::sha256(s)?));
    }
    if let Ok(d) = Digest::parse(s) {
        return Ok(AnyReference::Id(d));
    }
    Reference::parse_normalized(s).map(AnyReference::Named)
}

impl fmt::Display for AnyReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyReference::Id(d) => d.fmt(f),
            AnyReference::Named(r) => r.fmt(f),
        }
    }
}

/// Splits a familiar name into domain and remainder (path plus any tag or
/// digest), without validating (`splitDockerDomain`).
fn split_docker_domain(name: &str) -> (&str, String) {
    let Some((first, rest)) = name.split_once('/') else {
        // A single component is always a Docker Hub official image, even
        // "localhost" or "example.com"; this avoids reading "name:tag" as
        // "host:port".
        return (DEFAULT_DOMAIN, format!("{OFFICIAL_REPO_PREFIX}{name}"));
    };
    let (domain, remainder) = if first == "localhost" {
        (first, rest)
    } else if first == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, rest)
    } else if first.contains(['.', ':']) || first.to_lowercase() != first {
        // Looks like a host name, an IP address or a port; or has uppercase,
        // which namespaces may not, so it can only be a domain.
        (first, rest)
    } else {
        (DEFAULT_DOMAIN, name)
    };
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        (domain, format!("{OFFICIAL_REPO_PREFIX}{remainder}"))
    } else {
        (domain, remainder.to_owned())
    }
}

/// Distribution's `Parse`: the grammar alone, without normalisation.
fn parse_raw(s: &str) -> Result<Reference, ReferenceError> {
    if s.is_empty() {
        return Err(ReferenceError::NameEmpty);
    }
    let Some(parts) = grammar::match_reference(s) else {
        let lower = s.to_lowercase();
        if lower != s && grammar::match_reference(&lower).is_some() {
            return Err(ReferenceError::NameContainsUppercase);
        }
        return Err(ReferenceError::InvalidFormat);
    };
    if parts.path.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ReferenceError::NameTooLong);
    }
    let digest = parts.digest.map(Digest::parse).transpose()?;
    Ok(Reference {
        domain: parts.domain.to_owned(),
        path: parts.path.to_owned(),
        tag: parts.tag.map(str::to_owned),
        digest,
    })
}
