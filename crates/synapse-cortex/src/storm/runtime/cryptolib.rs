//! `$lib.crypto.hashes` (md5, sha1, sha256, sha512), `$lib.crypto.hmac.digest` and
//! `$lib.random` (`int`, seeded `generator`s).
//!
//! Seeded generators produce the reference's sequences: Python's `random.Random(seed)` is a
//! Mersenne Twister seeded from the text and its SHA-512, and `randint` draws `k`-bit values
//! until one is in range.

use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use sha2::Digest;

use super::error::{Flow, RResult, StormError};
use super::ext::{Args, ExtObj, nosuchname};
use super::runt::Runt;
use super::value::{Obj, Val, lock};

/// The functions of each library of this module.
pub(crate) fn lib_funcs(path: &str) -> &'static [&'static str] {
    match path {
        "lib.crypto.hashes" => &["md5", "sha1", "sha256", "sha512"],
        "lib.crypto.hmac" => &["digest"],
        "lib.random" => &["int", "generator"],
        _ => &[],
    }
}

fn badarg(mesg: impl Into<String>) -> Flow {
    Flow::Err(StormError::new("BadArg", mesg))
}

fn bytes_arg(args: &Args<'_>, idx: usize, name: &str) -> RResult<Vec<u8>> {
    match args.req(idx, name)? {
        Val::Bytes(b) => Ok(b.to_vec()),
        other => Err(badarg(format!(
            "{name} must be bytes, not {}.",
            other.pytype()
        ))),
    }
}

fn hexdigest<D: Digest>(byts: &[u8]) -> Val {
    Val::from(hex::encode(D::digest(byts)))
}

fn hmac_of<M: Mac + hmac::digest::KeyInit>(key: &[u8], mesg: &[u8]) -> Vec<u8> {
    // an HMAC takes keys of any length
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <M as hmac::digest::KeyInit>::new(&Default::default()));
    mac.update(mesg);
    mac.finalize().into_bytes().to_vec()
}

/// Call a function of one of this module's libraries.
pub(crate) fn call_lib(path: &str, func: &str, args: &Args<'_>) -> RResult<Val> {
    match (path, func) {
        ("lib.crypto.hashes", _) => {
            let byts = bytes_arg(args, 0, "byts")?;
            match func {
                "md5" => Ok(hexdigest::<md5::Md5>(&byts)),
                "sha1" => Ok(hexdigest::<sha1::Sha1>(&byts)),
                "sha256" => Ok(hexdigest::<sha2::Sha256>(&byts)),
                "sha512" => Ok(hexdigest::<sha2::Sha512>(&byts)),
                other => Err(nosuchname(other)),
            }
        }
        ("lib.crypto.hmac", "digest") => {
            let Val::Bytes(key) = args.req(0, "key")? else {
                return Err(Flow::Err(
                    StormError::new("BadArg", "key is not bytes.").with("name", "key"),
                ));
            };
            let Val::Bytes(mesg) = args.req(1, "mesg")? else {
                return Err(Flow::Err(
                    StormError::new("BadArg", "mesg is not bytes.").with("name", "mesg"),
                ));
            };
            let alg = match args.get(2, "alg") {
                None => "sha256".to_owned(),
                Some(v) => v.to_str()?,
            };
            let out = match alg.to_lowercase().as_str() {
                "md5" => hmac_of::<Hmac<md5::Md5>>(&key, &mesg),
                "sha1" => hmac_of::<Hmac<sha1::Sha1>>(&key, &mesg),
                "sha224" => hmac_of::<Hmac<sha2::Sha224>>(&key, &mesg),
                "sha256" => hmac_of::<Hmac<sha2::Sha256>>(&key, &mesg),
                "sha384" => hmac_of::<Hmac<sha2::Sha384>>(&key, &mesg),
                "sha512" => hmac_of::<Hmac<sha2::Sha512>>(&key, &mesg),
                "sha3_224" => hmac_of::<Hmac<sha3::Sha3_224>>(&key, &mesg),
                "sha3_256" => hmac_of::<Hmac<sha3::Sha3_256>>(&key, &mesg),
                "sha3_384" => hmac_of::<Hmac<sha3::Sha3_384>>(&key, &mesg),
                "sha3_512" => hmac_of::<Hmac<sha3::Sha3_512>>(&key, &mesg),
                _ => {
                    return Err(Flow::Err(
                        StormError::new(
                            "BadArg",
                            format!("Invalid hmac algorithm provided: {alg}"),
                        )
                        .with("alg", alg.as_str()),
                    ));
                }
            };
            Ok(Val::Bytes(Arc::from(out)))
        }
        ("lib.random", "int") => {
            let (minval, maxval) = bounds(args)?;
            let mut mt = Mt19937::from_entropy();
            Ok(Val::Int(mt.randint(minval, maxval)))
        }
        ("lib.random", "generator") => {
            let seed = match args.get(0, "seed") {
                None | Some(Val::Null) => None,
                Some(v) => Some(v.to_str()?),
            };
            Ok(Val::Obj(Arc::new(Obj::Ext(ExtObj::Random(
                RandomGen::new(seed),
            )))))
        }
        _ => Err(nosuchname(func)),
    }
}

fn bounds(args: &Args<'_>) -> RResult<(i128, i128)> {
    let maxval = args.req(0, "maxval")?.to_int()?;
    let minval = args.int(1, "minval")?.unwrap_or(0);
    if minval > maxval {
        return Err(Flow::Err(
            StormError::new(
                "BadArg",
                format!(
                    "Minval must be less than or equal to maxval, minval={minval}, maxval={maxval}"
                ),
            )
            .with("minval", i64::try_from(minval).unwrap_or(i64::MIN))
            .with("maxval", i64::try_from(maxval).unwrap_or(i64::MAX)),
        ));
    }
    Ok((minval, maxval))
}

/// A seeded random generator (`$lib.random.generator(seed=)`, Storm type `random`).
pub(crate) struct RandomGen {
    seed: Mutex<Option<String>>,
    mt: Mutex<Mt19937>,
}

impl RandomGen {
    fn new(seed: Option<String>) -> Arc<RandomGen> {
        let mt = match &seed {
            Some(seed) => Mt19937::from_str_seed(seed),
            None => Mt19937::from_entropy(),
        };
        Arc::new(RandomGen {
            seed: Mutex::new(seed),
            mt: Mutex::new(mt),
        })
    }

    /// `random` or `random seed=<text, trimmed to 40 characters>`.
    pub(crate) fn repr(&self) -> String {
        match &*lock(&self.seed) {
            None => "random".to_owned(),
            Some(seed) => format!("random seed={}", trim_text(seed, 40)),
        }
    }

    /// `$r.seed`
    pub(crate) fn seed(&self) -> Val {
        lock(&self.seed).as_deref().map_or(Val::Null, Val::from)
    }

    /// `$r.seed = x`: reseed.
    pub(crate) fn set_seed(&self, seed: Option<String>) {
        *lock(&self.mt) = match &seed {
            Some(seed) => Mt19937::from_str_seed(seed),
            None => Mt19937::from_entropy(),
        };
        *lock(&self.seed) = seed;
    }

    /// `$r.int(maxval, minval=0)`
    pub(crate) fn call(&self, func: &str, args: &Args<'_>) -> RResult<Val> {
        match func {
            "int" => {
                let (minval, maxval) = bounds(args)?;
                Ok(Val::Int(lock(&self.mt).randint(minval, maxval)))
            }
            other => Err(nosuchname(other)),
        }
    }
}

impl std::fmt::Debug for RandomGen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.repr())
    }
}

impl PartialEq for RandomGen {
    fn eq(&self, other: &RandomGen) -> bool {
        std::ptr::eq(self, other)
    }
}

/// The reference's `trimText`: at most `n` characters, ending in `...` when cut.
fn trim_text(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_owned();
    }
    let keep: String = text.chars().take(n.saturating_sub(3)).collect();
    format!("{keep}...")
}

/// Python's Mersenne Twister (MT19937), seeded and drawn as `random.Random` does.
struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    fn init_genrand(seed: u32) -> Mt19937 {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    /// `init_by_array`, as CPython seeds from an integer's 32-bit words.
    fn init_by_array(key: &[u32]) -> Mt19937 {
        let mut mt = Mt19937::init_genrand(19_650_218);
        let n = 624usize;
        let (mut i, mut j) = (1usize, 0usize);
        let keylen = key.len().max(1);
        for _ in 0..n.max(keylen) {
            let prev = mt.state[i - 1];
            let k = key.get(j).copied().unwrap_or(0);
            mt.state[i] = (mt.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(k)
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= n {
                mt.state[0] = mt.state[n - 1];
                i = 1;
            }
            if j >= keylen {
                j = 0;
            }
        }
        for _ in 0..n - 1 {
            let prev = mt.state[i - 1];
            mt.state[i] = (mt.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= n {
                mt.state[0] = mt.state[n - 1];
                i = 1;
            }
        }
        mt.state[0] = 0x8000_0000;
        mt.index = n;
        mt
    }

    /// `random.seed(text)` (version 2): the integer of the text's bytes followed by their
    /// SHA-512.
    fn from_str_seed(seed: &str) -> Mt19937 {
        let mut byts = seed.as_bytes().to_vec();
        byts.extend_from_slice(&sha2::Sha512::digest(seed.as_bytes()));
        // the big-endian integer's 32-bit words, least significant first
        let mut words = Vec::new();
        let mut chunks = byts.rchunks(4);
        for chunk in chunks.by_ref() {
            let mut word = [0u8; 4];
            word[4 - chunk.len()..].copy_from_slice(chunk);
            words.push(u32::from_be_bytes(word));
        }
        while words.len() > 1 && words.last() == Some(&0) {
            words.pop();
        }
        Mt19937::init_by_array(&words)
    }

    fn from_entropy() -> Mt19937 {
        let key: Vec<u32> = (0..624).map(|_| rand::random::<u32>()).collect();
        Mt19937::init_by_array(&key)
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
                let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    next ^= 0x9908_b0df;
                }
                self.state[i] = next;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `getrandbits(k)` for `k` >= 1.
    fn getrandbits(&mut self, k: u32) -> u128 {
        if k <= 32 {
            return u128::from(self.next_u32() >> (32 - k));
        }
        let mut out = 0u128;
        let mut left = k;
        let mut shift = 0;
        while left > 0 {
            let mut word = self.next_u32();
            if left < 32 {
                word >>= 32 - left;
            }
            out |= u128::from(word) << shift;
            shift += 32;
            left = left.saturating_sub(32);
        }
        out
    }

    /// `randint(a, b)`: `a + _randbelow(b - a + 1)`.
    fn randint(&mut self, a: i128, b: i128) -> i128 {
        let n = (b - a + 1) as u128;
        let k = 128 - n.leading_zeros();
        let mut r = self.getrandbits(k);
        while r >= n {
            r = self.getrandbits(k);
        }
        a + r as i128
    }
}

/// Call a method of a random generator.
pub(crate) fn call_random(rng: &RandomGen, func: &str, args: &Args<'_>) -> RResult<Val> {
    rng.call(func, args)
}

/// `$r.seed = x`.
pub(crate) fn set_random_seed(_runt: &Runt, rng: &RandomGen, valu: &Val) -> RResult<()> {
    let seed = match valu {
        Val::Null => None,
        v => Some(v.to_str()?),
    };
    rng.set_seed(seed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_generators_draw_the_reference_sequence() {
        // python: r = random.Random('hehe'); [r.randint(0, 100) for _ in range(5)]
        let mut mt = Mt19937::from_str_seed("hehe");
        let got: Vec<i128> = (0..5).map(|_| mt.randint(0, 100)).collect();
        assert_eq!(got, REF_HEHE.to_vec());
        // python: random.Random('x').randint(10, 2**40)
        let mut mt = Mt19937::from_str_seed("x");
        assert_eq!(mt.randint(10, 1 << 40), REF_X_BIG);
    }

    #[test]
    fn trimmed_seed_text() {
        assert_eq!(trim_text("abc", 40), "abc");
        assert_eq!(trim_text(&"a".repeat(50), 10), "aaaaaaa...");
    }

    const REF_HEHE: [i128; 5] = [22, 48, 11, 84, 81];
    const REF_X_BIG: i128 = 346_306_596_317;
}
