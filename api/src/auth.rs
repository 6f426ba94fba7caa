//! API keys: generated at registration, shown once, stored as SHA-256
//! hashes. `User` and `Admin` are extractors that check
//! `Authorization: Bearer <key>`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use engine::AccountId;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// A new random key (32 bytes, hex) and its hash.
pub fn new_key() -> Result<(String, [u8; 32]), ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::Internal(format!("no randomness for an API key: {e}")))?;
    let key = format!("msk_{}", hex(&bytes));
    let hash = hash_key(&key);
    Ok((key, hash))
}

pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Equality of two hashes in time that does not depend on where they
/// differ.
pub fn same_hash(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A key hash as 64 lowercase hex digits (how it is stored).
pub fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of `hex`.
pub fn unhex(s: &str) -> Option<[u8; 32]> {
    let b = s.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

/// The authenticated user.
#[derive(Debug, Clone, Copy)]
pub struct User(pub AccountId);

impl FromRequestParts<AppState> for User {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let key = bearer(parts).ok_or(ApiError::Unauthorized)?;
        st.users
            .by_key(&hash_key(key))
            .map(User)
            .ok_or(ApiError::Unauthorized)
    }
}

/// The administrator (the configured admin key).
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let key = bearer(parts).ok_or(ApiError::Unauthorized)?;
        match &st.admin_key_hash {
            Some(h) if same_hash(h, &hash_key(key)) => Ok(Admin),
            // A user's key, or no admin configured: authenticated, not allowed.
            _ if st.users.by_key(&hash_key(key)).is_some() => Err(ApiError::Forbidden),
            _ => Err(ApiError::Unauthorized),
        }
    }
}

/// The admin key (`Caller(None)`) or a user's (`Caller(Some(account))`):
/// for routes both may use, each seeing what is theirs.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Option<AccountId>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let hash = hash_key(bearer(parts).ok_or(ApiError::Unauthorized)?);
        if st
            .admin_key_hash
            .as_ref()
            .is_some_and(|h| same_hash(h, &hash))
        {
            return Ok(Caller(None));
        }
        st.users
            .by_key(&hash)
            .map(|a| Caller(Some(a)))
            .ok_or(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_compare_equal_only_when_every_byte_is() {
        let a = hash_key("admin-key-0123456789");
        assert!(same_hash(&a, &hash_key("admin-key-0123456789")));
        for i in [0, 17, 31] {
            let mut b = a;
            b[i] ^= 1;
            assert!(!same_hash(&a, &b), "byte {i}");
        }
    }
}
