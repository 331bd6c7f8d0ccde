//! The two checksums of the framing, implemented here with compile-time tables (no dependency: both are
//! a dozen lines and their check values are tested).
//!
//! * Header check: **CRC-8/SMBUS** (poly 0x07, init 0x00, no reflection, xorout 0x00; check("123456789")
//!   = 0xF4).
//! * Frame check: **CRC-32/ISO-HDLC** (the zlib/Ethernet CRC: poly 0x04C11DB7 reflected = 0xEDB88320,
//!   init 0xFFFFFFFF, reflected in and out, xorout 0xFFFFFFFF; check("123456789") = 0xCBF43926), the value
//!   Python's `zlib.crc32` returns.

const fn crc8_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

const fn crc32_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CRC8: [u8; 256] = crc8_table();
static CRC32: [u32; 256] = crc32_table();

/// CRC-8/SMBUS of `data` (the header check byte).
pub fn crc8(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |c, &b| CRC8[usize::from(c ^ b)])
}

/// CRC-32/ISO-HDLC of `data` (the frame check word), equal to Python's `zlib.crc32(data)`.
pub fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(0xFFFF_FFFFu32, |c, &b| {
        CRC32[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
