//! The packet buffer that encap and decap work on in place.
//!
//! It has the shape of a single-segment DPDK mbuf: a data window inside a
//! larger buffer, with headroom before it and tailroom after it. Encap
//! prepends headers into the headroom and appends the ICV into the tailroom;
//! decap trims both ends. Nothing is copied but the few header bytes that
//! must move. The DPDK wrapper implements this trait for its mbuf; tools and
//! tests use [`VecBuf`].

/// Not enough head- or tailroom, or a trim past the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `prepend` asked for more than the headroom.
    #[error("headroom {have} < {need}")]
    Headroom {
        /// Available.
        have: usize,
        /// Asked.
        need: usize,
    },
    /// `append` asked for more than the tailroom.
    #[error("tailroom {have} < {need}")]
    Tailroom {
        /// Available.
        have: usize,
        /// Asked.
        need: usize,
    },
    /// A trim longer than the data.
    #[error("trim of {need} bytes from {have}")]
    Trim {
        /// Data length.
        have: usize,
        /// Asked.
        need: usize,
    },
}

/// A contiguous packet with head- and tailroom.
pub trait PacketBuf {
    /// The packet bytes.
    fn data(&self) -> &[u8];
    /// The packet bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Bytes free before the data.
    fn headroom(&self) -> usize;
    /// Bytes free after the data.
    fn tailroom(&self) -> usize;
    /// Grows the data by `n` bytes at the front (contents unspecified).
    fn prepend(&mut self, n: usize) -> Result<(), Error>;
    /// Grows the data by `n` bytes at the back (contents unspecified).
    fn append(&mut self, n: usize) -> Result<(), Error>;
    /// Removes `n` bytes from the front.
    fn trim_front(&mut self, n: usize) -> Result<(), Error>;
    /// Removes `n` bytes from the back.
    fn trim_back(&mut self, n: usize) -> Result<(), Error>;
}

/// A heap buffer with a data window, for tools, tests and benches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecBuf {
    storage: Vec<u8>,
    start: usize,
    end: usize,
}

impl VecBuf {
    /// Room an encap needs at most: Ethernet is already there, so outer
    /// IPv6 (40) + UDP (8) + PSP with VC (24), rounded up like an mbuf's
    /// default 128-byte headroom.
    pub const DEFAULT_HEADROOM: usize = 128;
    /// Room for the ICV, with slack.
    pub const DEFAULT_TAILROOM: usize = 64;

    /// Copies `data` into a new buffer with the given head- and tailroom.
    pub fn with_room(data: &[u8], headroom: usize, tailroom: usize) -> VecBuf {
        let mut storage = vec![0u8; headroom + data.len() + tailroom];
        storage[headroom..headroom + data.len()].copy_from_slice(data);
        VecBuf { storage, start: headroom, end: headroom + data.len() }
    }

    /// Like [`with_room`](Self::with_room), with the data starting at an
    /// address that is a multiple of `align` (a power of two), as a DPDK
    /// mbuf's data is: alignment changes how fast AES-GCM runs over it.
    pub fn with_room_aligned(
        data: &[u8],
        headroom: usize,
        tailroom: usize,
        align: usize,
    ) -> VecBuf {
        let align = align.max(1).next_power_of_two();
        let storage = vec![0u8; headroom + align + data.len() + tailroom];
        let base = storage.as_ptr() as usize + headroom;
        let start = headroom + (align - base % align) % align;
        let mut b = VecBuf { storage, start, end: start + data.len() };
        b.data_mut().copy_from_slice(data);
        b
    }

    /// Copies `data` with the default head- and tailroom.
    pub fn new(data: &[u8]) -> VecBuf {
        Self::with_room(data, Self::DEFAULT_HEADROOM, Self::DEFAULT_TAILROOM)
    }

    /// Resets the window to hold `data` again, keeping the allocation when
    /// it is large enough (benches reuse one buffer).
    pub fn reset(&mut self, data: &[u8], headroom: usize, tailroom: usize) {
        let need = headroom + data.len() + tailroom;
        if self.storage.len() < need {
            self.storage.resize(need, 0);
        }
        self.start = headroom;
        self.end = headroom + data.len();
        self.storage[self.start..self.end].copy_from_slice(data);
    }
}

impl PacketBuf for VecBuf {
    #[inline]
    fn data(&self) -> &[u8] {
        &self.storage[self.start..self.end]
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.end]
    }
    #[inline]
    fn headroom(&self) -> usize {
        self.start
    }
    #[inline]
    fn tailroom(&self) -> usize {
        self.storage.len() - self.end
    }
    #[inline]
    fn prepend(&mut self, n: usize) -> Result<(), Error> {
        if n > self.start {
            return Err(Error::Headroom { have: self.start, need: n });
        }
        self.start -= n;
        Ok(())
    }
    #[inline]
    fn append(&mut self, n: usize) -> Result<(), Error> {
        if n > self.tailroom() {
            return Err(Error::Tailroom { have: self.tailroom(), need: n });
        }
        self.end += n;
        Ok(())
    }
    #[inline]
    fn trim_front(&mut self, n: usize) -> Result<(), Error> {
        if n > self.end - self.start {
            return Err(Error::Trim { have: self.end - self.start, need: n });
        }
        self.start += n;
        Ok(())
    }
    #[inline]
    fn trim_back(&mut self, n: usize) -> Result<(), Error> {
        if n > self.end - self.start {
            return Err(Error::Trim { have: self.end - self.start, need: n });
        }
        self.end -= n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_moves() {
        let mut b = VecBuf::with_room(&[1, 2, 3], 4, 2);
        assert_eq!((b.headroom(), b.tailroom()), (4, 2));
        b.prepend(4).unwrap();
        assert_eq!(b.prepend(1), Err(Error::Headroom { have: 0, need: 1 }));
        b.append(2).unwrap();
        assert_eq!(b.append(1), Err(Error::Tailroom { have: 0, need: 1 }));
        assert_eq!(b.data().len(), 9);
        b.trim_front(4).unwrap();
        b.trim_back(2).unwrap();
        assert_eq!(b.data(), &[1, 2, 3]);
        assert_eq!(b.trim_back(4), Err(Error::Trim { have: 3, need: 4 }));
        let a = VecBuf::with_room_aligned(&[5; 7], 10, 3, 64);
        assert_eq!(a.data().as_ptr() as usize % 64, 0);
        assert!(a.headroom() >= 10 && a.tailroom() >= 3);
        assert_eq!(a.data(), &[5; 7]);
        b.reset(&[9; 10], 1, 1);
        assert_eq!((b.data(), b.headroom(), b.tailroom()), (&[9u8; 10][..], 1, 1));
    }
}
