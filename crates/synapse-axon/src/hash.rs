//! Blob names ([`Sha256`]) and the hashers of uploads ([`Hasher`]: sha256 alone, or the
//! reference's hash set: md5, sha1, sha256 and sha512).

use std::fmt;

use md5::Digest as _;

/// The name of a blob: the 32 raw bytes of its sha256.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// The sha256 of the empty file (`e3b0c442...b855`).
    pub const EMPTY: Sha256 = Sha256([
        0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9,
        0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52,
        0xb8, 0x55,
    ]);

    /// From exactly 32 bytes.
    pub fn from_slice(byts: &[u8]) -> Option<Sha256> {
        byts.try_into().ok().map(Sha256)
    }

    /// From 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Option<Sha256> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Sha256(out))
    }

    /// The sha256 of `byts`.
    pub fn of(byts: &[u8]) -> Sha256 {
        let digest = ring::digest::digest(&ring::digest::SHA256, byts);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Sha256(out)
    }

    /// Lowercase hex.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.hex())
    }
}

/// The four digests of the reference's hash set, as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashSet {
    /// md5.
    pub md5: String,
    /// sha1.
    pub sha1: String,
    /// sha256.
    pub sha256: String,
    /// sha512.
    pub sha512: String,
    /// The number of bytes hashed.
    pub size: u64,
}

/// The extra digests of a hash set, beside the sha256 every upload computes.
struct Extra {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha512: ring::digest::Context,
}

/// Hashes the bytes of one upload: always sha256, and md5/sha1/sha512 when a hash set is
/// asked for. Large updates of a hash set hash on several threads at once.
pub(crate) struct Hasher {
    sha256: ring::digest::Context,
    extra: Option<Box<Extra>>,
    size: u64,
}

/// Some of the hashes of a [`Hasher`] ([`Hasher::into_lanes`]).
#[derive(Default)]
pub(crate) struct Lane {
    sha256: Option<ring::digest::Context>,
    sha1: Option<sha1::Sha1>,
    md5: Option<md5::Md5>,
    sha512: Option<ring::digest::Context>,
    size: u64,
}

impl Lane {
    /// Hash `byts` (CPU work: call it off the async runtime).
    pub(crate) fn update(&mut self, byts: &[u8]) {
        self.size += byts.len() as u64;
        if let Some(sha256) = &mut self.sha256 {
            sha256.update(byts);
        }
        if let Some(sha1) = &mut self.sha1 {
            sha1.update(byts);
        }
        if let Some(md5) = &mut self.md5 {
            md5.update(byts);
        }
        if let Some(sha512) = &mut self.sha512 {
            sha512.update(byts);
        }
    }
}

/// Below this many bytes a hash-set update hashes on the calling thread only.
const PARALLEL_MIN: usize = 256 * 1024;

impl Hasher {
    /// A sha256 hasher; `hashset` adds md5, sha1 and sha512.
    pub(crate) fn new(hashset: bool) -> Self {
        let extra = hashset.then(|| {
            Box::new(Extra {
                md5: md5::Md5::new(),
                sha1: sha1::Sha1::new(),
                sha512: ring::digest::Context::new(&ring::digest::SHA512),
            })
        });
        Self {
            sha256: ring::digest::Context::new(&ring::digest::SHA256),
            extra,
            size: 0,
        }
    }

    /// The number of bytes hashed so far.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Hash `byts`. This is CPU work: call it off the async runtime for large inputs.
    pub(crate) fn update(&mut self, byts: &[u8]) {
        self.size += byts.len() as u64;
        let sha256 = &mut self.sha256;
        match self.extra.as_deref_mut() {
            None => sha256.update(byts),
            Some(extra) if byts.len() < PARALLEL_MIN => {
                sha256.update(byts);
                extra.md5.update(byts);
                extra.sha1.update(byts);
                extra.sha512.update(byts);
            }
            Some(extra) => {
                // md5 and sha512 are the slow ones: each gets a thread, the rest stays here.
                let Extra { md5, sha1, sha512 } = extra;
                std::thread::scope(|scope| {
                    scope.spawn(|| md5.update(byts));
                    scope.spawn(|| sha512.update(byts));
                    sha1.update(byts);
                    sha256.update(byts);
                });
            }
        }
    }

    /// The hasher as lanes, each to be fed the same bytes on a thread of its own: sha256 alone,
    /// or for a hash set sha256 with sha1 (both run on the CPU's SHA extensions), md5, and
    /// sha512. [`Hasher::from_lanes`] puts them back together.
    pub(crate) fn into_lanes(self) -> Vec<Lane> {
        let size = self.size;
        let first = Lane {
            sha256: Some(self.sha256),
            size,
            ..Lane::default()
        };
        let Some(extra) = self.extra else {
            return vec![first];
        };
        let Extra { md5, sha1, sha512 } = *extra;
        vec![
            Lane {
                sha1: Some(sha1),
                ..first
            },
            Lane {
                md5: Some(md5),
                size,
                ..Lane::default()
            },
            Lane {
                sha512: Some(sha512),
                size,
                ..Lane::default()
            },
        ]
    }

    /// The hasher of [`Hasher::into_lanes`], each lane fed the same bytes. `None` if a hash is
    /// missing or the lanes hashed different numbers of bytes.
    pub(crate) fn from_lanes(lanes: Vec<Lane>) -> Option<Hasher> {
        let size = lanes.first()?.size;
        let (mut sha256, mut md5, mut sha1, mut sha512) = (None, None, None, None);
        for lane in lanes {
            if lane.size != size {
                return None;
            }
            sha256 = sha256.or(lane.sha256);
            md5 = md5.or(lane.md5);
            sha1 = sha1.or(lane.sha1);
            sha512 = sha512.or(lane.sha512);
        }
        let extra = match (md5, sha1, sha512) {
            (None, None, None) => None,
            (Some(md5), Some(sha1), Some(sha512)) => Some(Box::new(Extra { md5, sha1, sha512 })),
            _ => return None,
        };
        Some(Hasher {
            sha256: sha256?,
            extra,
            size,
        })
    }

    /// The sha256 (and the hash set, if asked for) of everything hashed.
    pub(crate) fn finish(self) -> (Sha256, Option<HashSet>) {
        let digest = self.sha256.finish();
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(digest.as_ref());
        let sha256 = Sha256(sha256);
        let hashset = self.extra.map(|extra| HashSet {
            md5: hex::encode(extra.md5.finalize()),
            sha1: hex::encode(extra.sha1.finalize()),
            sha256: sha256.hex(),
            sha512: hex::encode(extra.sha512.finish().as_ref()),
            size: self.size,
        });
        (sha256, hashset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // Verified against the reference's hashset of b'asdfasdf'.
        let mut hasher = Hasher::new(true);
        hasher.update(b"asdf");
        hasher.update(b"asdf");
        let (sha256, set) = hasher.finish();
        let set = set.unwrap();
        assert_eq!(
            sha256.hex(),
            "2413fb3709b05939f04cf2e92f7d0897fc2596f9ad0b8a9ea855c7bfebaae892"
        );
        assert_eq!(set.md5, "6a204bd89f3c8348afd5c77c717a097a");
        assert_eq!(set.sha1, "92429d82a41e930486c6de5ebda9602d55c39986");
        assert!(set.sha512.starts_with("ce57d8bc"));
        assert!(set.sha512.ends_with("4b2d57"));
        assert_eq!(set.size, 8);
        assert_eq!(Sha256::of(b""), Sha256::EMPTY);
    }

    #[test]
    fn parallel_updates_match_serial_ones() {
        let data: Vec<u8> = (0..(PARALLEL_MIN * 3 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut big = Hasher::new(true);
        big.update(&data);
        let mut small = Hasher::new(true);
        for piece in data.chunks(1000) {
            small.update(piece);
        }
        assert_eq!(big.finish(), small.finish());
    }

    #[test]
    fn lanes_hash_as_the_whole_hasher() {
        let data: Vec<u8> = (0..100_000).map(|i| (i % 253) as u8).collect();
        for hashset in [false, true] {
            let mut whole = Hasher::new(hashset);
            whole.update(&data[..10]);
            let mut lanes = whole.into_lanes();
            assert_eq!(lanes.len(), if hashset { 3 } else { 1 });
            for lane in &mut lanes {
                for piece in data[10..].chunks(7777) {
                    lane.update(piece);
                }
            }
            let mut serial = Hasher::new(hashset);
            serial.update(&data);
            assert_eq!(Hasher::from_lanes(lanes).unwrap().finish(), serial.finish());
        }
        // Lanes that were not fed the same bytes are refused.
        let mut lanes = Hasher::new(true).into_lanes();
        lanes[1].update(b"x");
        assert!(Hasher::from_lanes(lanes).is_none());
        let mut lanes = Hasher::new(true).into_lanes();
        lanes.pop();
        assert!(Hasher::from_lanes(lanes).is_none());
    }

    #[test]
    fn hex_forms() {
        let sha = Sha256::of(b"x");
        assert_eq!(Sha256::from_hex(&sha.hex().to_uppercase()), Some(sha));
        assert_eq!(Sha256::from_hex("00"), None);
        assert_eq!(Sha256::from_hex(&"g".repeat(64)), None);
        assert_eq!(Sha256::from_slice(&[0u8; 31]), None);
    }
}
