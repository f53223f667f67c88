//! An on-disk cache of compiled Hyperscan databases, so a gateway restarts without compiling its
//! rule pack's phrases and patterns again (about 2 s of CPU for the default pack, against a few
//! milliseconds to read them back).
//!
//! Every database of a [`TextMatcher`](super::TextMatcher) is one file of the cache directory,
//! named by a 128-bit hash of everything that determines it (its *key*): the exact bytes, flags
//! and ids of its literals or its expression, the mode, the Hyperscan library's version string,
//! the target architecture and the CPU features Hyperscan compiles for, and this file format's
//! version. A file holds its full key too, compared byte for byte, and a checksum of all of it:
//!
//! - a changed pack, another library or another CPU gets other file names: a stale database is
//!   never loaded (and a changed phrase recompiles the phrase database only, a changed pattern
//!   its own two);
//! - a file that is truncated, corrupted, of another format, or that Hyperscan refuses (built for
//!   another CPU) is ignored, recompiled and rewritten;
//! - files are written to a temporary name in the same directory and renamed into place, so a
//!   reader never sees half a file, and several processes can share one directory.
//!
//! Hyperscan does not check a serialized database's contents, and a crafted one can make the
//! scanner read out of bounds: the directory must be writable by the gateway's user only. A
//! directory that others may write into (group- or world-writable, e.g. `/tmp` itself) is not
//! used, and one created here is private (mode 0700). Files are never removed: the directory can
//! be emptied at any time (the next start compiles again).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hyperscan::{BlockDatabase, Serialized};

/// First bytes of a cache file; the last two are this format's version.
const MAGIC: &[u8; 8] = b"IDHSDB01";

/// What [`TextMatcher::compile_with`](super::TextMatcher::compile_with) did with the cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Databases read from the cache.
    pub loaded: usize,
    /// Databases compiled (not in the cache, no cache, or the cached file was rejected).
    pub compiled: usize,
    /// Cache files found but rejected (corrupt, truncated, another format, refused by
    /// Hyperscan): each was compiled and rewritten.
    pub rejected: usize,
    /// Databases compiled but not written to the cache (the directory is not usable).
    pub not_written: usize,
    /// The last problem with the cache directory, for a log line (`None` when all went well).
    pub last_error: Option<String>,
}

/// A directory of compiled Hyperscan databases (see the module docs). Cheap to create: nothing
/// is read or written until a matcher is compiled with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbCache {
    dir: PathBuf,
}

/// A cache file's verdict.
pub(crate) enum Lookup {
    /// No file under that key.
    Missing,
    /// A file was there but is unusable (why).
    Rejected(String),
    /// The database.
    Hit(BlockDatabase),
}

impl DbCache {
    /// A cache in `dir` (created on first write, mode 0700, if missing).
    pub fn new(dir: impl Into<PathBuf>) -> DbCache {
        DbCache { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks the directory before use: an existing directory others may write into is
    /// refused; a missing one is created private.
    pub(crate) fn prepare(&self) -> Result<(), String> {
        match fs::metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => check_private(&meta, &self.dir),
            Ok(_) => Err(format!("{} is not a directory", self.dir.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_private(&self.dir)
                .map_err(|e| format!("creating {}: {e}", self.dir.display())),
            Err(e) => Err(format!("{}: {e}", self.dir.display())),
        }
    }

    /// The file of the database with this key.
    pub(crate) fn path(&self, key: &[u8]) -> PathBuf {
        let (a, b) = (
            hash64(0x6964_6873_6462_0001, key),
            hash64(0x6964_6873_6462_0002, key),
        );
        self.dir.join(format!("{a:016x}{b:016x}.hsdb"))
    }

    /// The cached database of `key`, if a valid file holds it.
    pub(crate) fn load(&self, key: &[u8]) -> Lookup {
        let bytes = match fs::read(self.path(key)) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Missing,
            Err(e) => return Lookup::Rejected(e.to_string()),
        };
        let Some(db_bytes) = decode(&bytes, key) else {
            return Lookup::Rejected("not a valid cache file".into());
        };
        match db_bytes.deserialize() {
            Ok(db) => Lookup::Hit(db),
            Err(e) => Lookup::Rejected(format!("Hyperscan refused it: {e}")),
        }
    }

    /// Writes `db` under `key`, atomically (temporary file, then rename).
    pub(crate) fn store(&self, key: &[u8], db: &BlockDatabase) -> Result<(), String> {
        let serialized = db.serialize().map_err(|e| e.to_string())?;
        let file = encode(key, &serialized);
        let path = self.path(key);
        static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);
        let temp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("db"),
            std::process::id(),
            NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
        ));
        let written = fs::File::create(&temp)
            .and_then(|mut f| f.write_all(&file))
            .and_then(|()| fs::rename(&temp, &path));
        written.map_err(|e| {
            let _ = fs::remove_file(&temp);
            format!("writing {}: {e}", path.display())
        })
    }
}

#[cfg(unix)]
fn check_private(meta: &fs::Metadata, dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(format!(
            "{} is writable by other users: not used as a database cache",
            dir.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_meta: &fs::Metadata, _dir: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(unix)]
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

/// What determines every database, whatever its contents: this format, the library, the CPU.
pub(crate) fn environment_key() -> Vec<u8> {
    let mut key = Vec::with_capacity(128);
    key.extend_from_slice(MAGIC);
    push_bytes(&mut key, hyperscan::version_str().to_bytes());
    push_bytes(&mut key, std::env::consts::ARCH.as_bytes());
    push_bytes(&mut key, cpu_features().as_bytes());
    push_bytes(&mut key, b"block");
    key
}

/// The CPU features Hyperscan specialises a database for.
fn cpu_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let features = [
            ("ssse3", std::arch::is_x86_feature_detected!("ssse3")),
            ("sse4.2", std::arch::is_x86_feature_detected!("sse4.2")),
            ("popcnt", std::arch::is_x86_feature_detected!("popcnt")),
            ("bmi2", std::arch::is_x86_feature_detected!("bmi2")),
            ("avx2", std::arch::is_x86_feature_detected!("avx2")),
            ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
            ("avx512bw", std::arch::is_x86_feature_detected!("avx512bw")),
            (
                "avx512vbmi",
                std::arch::is_x86_feature_detected!("avx512vbmi"),
            ),
        ];
        features
            .iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(",")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        String::new()
    }
}

/// Appends `bytes` with its length in front (so two fields can never run into each other).
pub(crate) fn push_bytes(key: &mut Vec<u8>, bytes: &[u8]) {
    key.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    key.extend_from_slice(bytes);
}

/// Appends a number.
pub(crate) fn push_u64(key: &mut Vec<u8>, n: u64) {
    key.extend_from_slice(&n.to_le_bytes());
}

/// A cache file: magic, key, database, checksum of all that precedes it.
pub(crate) fn encode(key: &[u8], db: &[u8]) -> Vec<u8> {
    let mut file = Vec::with_capacity(MAGIC.len() + 16 + key.len() + db.len() + 8);
    file.extend_from_slice(MAGIC);
    push_bytes(&mut file, key);
    push_bytes(&mut file, db);
    let sum = hash64(CHECKSUM_SEED, &file);
    push_u64(&mut file, sum);
    file
}

const CHECKSUM_SEED: u64 = 0x636b_7375_6d5f_6864;

/// The database bytes of a cache file, if it is whole, of this format and for `key`.
fn decode<'f>(file: &'f [u8], key: &[u8]) -> Option<&'f [u8]> {
    let (body, sum) = file.split_at_checked(file.len().checked_sub(8)?)?;
    if read_u64(sum)? != hash64(CHECKSUM_SEED, body) {
        return None;
    }
    let rest = body.strip_prefix(MAGIC.as_slice())?;
    let (stored_key, rest) = read_field(rest)?;
    if stored_key != key {
        return None;
    }
    let (db, rest) = read_field(rest)?;
    rest.is_empty().then_some(db)
}

fn read_u64(bytes: &[u8]) -> Option<u64> {
    bytes.try_into().ok().map(u64::from_le_bytes)
}

/// A length-prefixed field and what follows it.
fn read_field(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_at_checked(8)?;
    let len = usize::try_from(read_u64(len)?).ok()?;
    rest.split_at_checked(len)
}

/// A 64-bit hash of `data` (stable across builds and platforms: it names files and checks
/// them). Not cryptographic: it detects accidents, not forgeries.
pub(crate) fn hash64(seed: u64, data: &[u8]) -> u64 {
    const K1: u64 = 0x87c3_7b91_1142_53d5;
    const K2: u64 = 0x4cf5_ad43_2745_937f;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(K2);
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let word = read_u64(chunk).unwrap_or_default();
        h ^= word.wrapping_mul(K1).rotate_left(31).wrapping_mul(K2);
        h = h.rotate_left(27).wrapping_mul(5).wrapping_add(0x52dc_e729);
    }
    let mut tail = [0u8; 8];
    for (t, b) in tail.iter_mut().zip(chunks.remainder()) {
        *t = *b;
    }
    h ^= u64::from_le_bytes(tail)
        .wrapping_mul(K1)
        .rotate_left(31)
        .wrapping_mul(K2);
    fmix64(h)
}

/// MurmurHash3's finaliser: every input bit affects every output bit.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_decodes_only_whole_and_for_its_key() {
        let file = encode(b"key", b"database");
        assert_eq!(decode(&file, b"key"), Some(&b"database"[..]));
        assert_eq!(decode(&file, b"other key"), None);
        for cut in 0..file.len() {
            assert_eq!(
                decode(file.get(..cut).unwrap(), b"key"),
                None,
                "cut at {cut}"
            );
        }
        for at in 0..file.len() {
            let mut bad = file.clone();
            bad[at] ^= 0x10;
            assert_eq!(decode(&bad, b"key"), None, "flipped byte {at}");
        }
    }

    #[test]
    fn the_hash_depends_on_every_byte_and_the_length() {
        let data: Vec<u8> = (0..100u8).collect();
        let h = hash64(1, &data);
        assert_ne!(h, hash64(2, &data));
        for n in 0..data.len() {
            assert_ne!(hash64(1, &data[..n]), h);
            let mut d = data.clone();
            d[n] ^= 1;
            assert_ne!(hash64(1, &d), h);
        }
        assert_ne!(hash64(0, b""), hash64(0, b"\0"));
    }
}
