//! The calls into the raw bindings (`dpdk_sys::ipsec_mb`, bindgen over
//! `intel-ipsec-mb.h`, see dpdk-sys's `ipsec_mb_build.rs`) and the one
//! place they are set up: the GCM function table, taken once from a
//! manager that `init_mb_mgr_auto` configured for this CPU.

use super::Error;
use std::ffi::CStr;
use std::sync::OnceLock;

pub(super) use dpdk_sys::ipsec_mb as sys;

/// The code path the library chose for this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// No AES-NI: portable C.
    NoAesni,
    /// SSE4.2 with AES-NI.
    Sse,
    /// AVX.
    Avx,
    /// AVX2 (with PCLMULQDQ).
    Avx2,
    /// AVX-512 (VAES and VPCLMULQDQ when present).
    Avx512,
}

pub(super) type PreFn = unsafe extern "C" fn(*const core::ffi::c_void, *mut sys::gcm_key_data);
pub(super) type EncDecFn = unsafe extern "C" fn(
    *const sys::gcm_key_data,
    *mut sys::gcm_context_data,
    *mut u8,
    *const u8,
    u64,
    *const u8,
    *const u8,
    u64,
    *mut u8,
    u64,
);

/// The GCM entry points for one key size.
#[derive(Debug, Clone, Copy)]
pub(super) struct GcmFns {
    /// The key length `pre` reads: 16 or 32.
    pub key_len: usize,
    pub pre: PreFn,
    pub enc: EncDecFn,
    pub dec: EncDecFn,
}

/// The entry points the manager picked, for AES-128 and AES-256.
#[derive(Debug, Clone, Copy)]
pub(super) struct Table {
    pub arch: Arch,
    pub aes128: GcmFns,
    pub aes256: GcmFns,
}

static TABLE: OnceLock<Result<Table, Error>> = OnceLock::new();

/// The function table, set up on first use.
pub(super) fn table() -> Result<&'static Table, Error> {
    TABLE.get_or_init(load).as_ref().map_err(|e| *e)
}

/// The code path intel-ipsec-mb uses on this CPU, and its version.
pub fn arch() -> Result<(Arch, &'static str), Error> {
    let t = table()?;
    // SAFETY: imb_get_version_str returns a pointer to a static
    // NUL-terminated string in the library, valid for the program's life.
    let v = unsafe { CStr::from_ptr(sys::imb_get_version_str()) };
    Ok((t.arch, v.to_str().unwrap_or("?")))
}

fn load() -> Result<Table, Error> {
    // SAFETY: alloc_mb_mgr takes flags (0: use every CPU feature) and
    // returns an owned manager or NULL, checked below.
    let mgr = unsafe { sys::alloc_mb_mgr(0) };
    if mgr.is_null() {
        return Err(Error::Manager("alloc_mb_mgr returned NULL"));
    }
    let mut arch: sys::IMB_ARCH = sys::IMB_ARCH_NONE;
    // SAFETY: mgr is a live manager from alloc_mb_mgr; arch is a valid
    // out-pointer for the duration of the call.
    unsafe { sys::init_mb_mgr_auto(mgr, &mut arch) };
    // SAFETY: mgr is live and initialised; we only read plain fields
    // (function pointers) out of it.
    let (err, fns) = unsafe {
        let m = &*mgr;
        (
            sys::imb_get_errno(mgr),
            (m.gcm128_pre, m.gcm128_enc, m.gcm128_dec, m.gcm256_pre, m.gcm256_enc, m.gcm256_dec),
        )
    };
    // The table holds pointers into the library's code, which stays
    // mapped: the manager itself is no longer needed.
    // SAFETY: mgr came from alloc_mb_mgr and is not used after this.
    unsafe { sys::free_mb_mgr(mgr) };
    if err != 0 {
        return Err(Error::Manager("init_mb_mgr_auto failed"));
    }
    let arch = match arch {
        sys::IMB_ARCH_NOAESNI => Arch::NoAesni,
        sys::IMB_ARCH_SSE => Arch::Sse,
        sys::IMB_ARCH_AVX => Arch::Avx,
        sys::IMB_ARCH_AVX2 => Arch::Avx2,
        sys::IMB_ARCH_AVX512 => Arch::Avx512,
        _ => return Err(Error::Manager("init_mb_mgr_auto chose no architecture")),
    };
    match fns {
        (Some(p1), Some(e1), Some(d1), Some(p2), Some(e2), Some(d2)) => Ok(Table {
            arch,
            aes128: GcmFns { key_len: 16, pre: p1, enc: e1, dec: d1 },
            aes256: GcmFns { key_len: 32, pre: p2, enc: e2, dec: d2 },
        }),
        _ => Err(Error::Manager("no AES-GCM entry points")),
    }
}

/// The bytes of a key block, to wipe it.
pub(super) fn key_bytes(k: &mut sys::gcm_key_data) -> &mut [u8] {
    let len = core::mem::size_of::<sys::gcm_key_data>();
    // SAFETY: gcm_key_data is plain bytes (arrays of u8 in a struct and a
    // union of u8 arrays, no padding that is not itself u8); the slice
    // covers exactly the struct and borrows it mutably for its lifetime.
    unsafe { core::slice::from_raw_parts_mut((k as *mut sys::gcm_key_data).cast::<u8>(), len) }
}

/// Expands `key` into `data` with the entry point of its size.
pub(super) fn expand(fns: &GcmFns, key: &[u8], data: &mut sys::gcm_key_data) {
    assert_eq!(key.len(), fns.key_len, "AES-GCM key length");
    // SAFETY: `key` holds the 16 or 32 bytes this entry point reads
    // (checked above); `data` is a live, aligned gcm_key_data the call
    // fills.
    unsafe { (fns.pre)(key.as_ptr().cast(), data) };
}

/// One call of an encrypt or decrypt entry point over `in_out`, in place.
pub(super) fn crypt(
    f: EncDecFn,
    key: &sys::gcm_key_data,
    ctx: &mut sys::gcm_context_data,
    iv: &[u8; 12],
    aad: &[u8],
    in_out: &mut [u8],
    tag: &mut [u8; 16],
) {
    let data = in_out.as_mut_ptr();
    // SAFETY: the key block is live and only read, the context live and
    // exclusively borrowed; the IV is 12 readable bytes; `aad` is readable
    // for its length; `in_out` is readable and writable for its length and
    // the library supports the same pointer as source and destination;
    // `tag` is 16 writable bytes and 16 is a valid tag length. Empty
    // slices give dangling but non-NULL pointers that are not read.
    unsafe {
        f(
            key,
            ctx,
            data,
            data,
            in_out.len() as u64,
            iv.as_ptr(),
            aad.as_ptr(),
            aad.len() as u64,
            tag.as_mut_ptr(),
            tag.len() as u64,
        )
    }
}
