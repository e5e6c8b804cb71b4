//! An uploaded image's dimensions and thumbnail, with the `image` crate.
//!
//! Decoding is where an image can hurt: a PNG of a few hundred bytes can
//! declare 100000×100000 pixels (40 GB once decoded). So the header is
//! read first and the image is decoded only if its pixels are within
//! `max_pixels`, with the decoder's own limits (each side, and its
//! allocations) set as well in case a format's header and data disagree.
//! An image refused here is not an error for the upload: it is kept as a
//! plain file (a download), never decoded, here or in anyone's browser.
//!
//! This is blocking, CPU-bound work: the caller runs it on
//! `spawn_blocking`, one image at a time (`Uploads::decoding`).

use std::io::{BufRead, Cursor, Seek};

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageReader, ImageResult};

use super::sniff::Raster;

/// The box a thumbnail fits in, in pixels (the page shows it at most this
/// big).
pub const THUMB_BOX: u32 = 320;
/// No side longer than this is decoded, whatever the pixel count (a
/// 1×40000000 strip is no picture to show).
pub const MAX_SIDE: u32 = 30_000;
/// JPEG quality of thumbnails of opaque images.
const THUMB_QUALITY: u8 = 80;

/// An image that decoded: its size as shown (after its EXIF orientation)
/// and its thumbnail.
#[derive(Debug, Clone)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub thumb: Vec<u8>,
    /// `image/png` (the image has transparency) or `image/jpeg`.
    pub thumb_type: &'static str,
}

/// Why an image is kept as a plain file.
#[derive(Debug, thiserror::Error)]
pub enum NotShown {
    /// More pixels than `max_pixels`, or a side over `MAX_SIDE`.
    #[error("the image is {width}×{height} pixels, more than is decoded")]
    TooLarge { width: u32, height: u32 },
    /// It does not decode (damaged, or not the format it starts like).
    #[error("the image does not decode")]
    Broken(#[from] image::ImageError),
}

/// Reads an image of `raster`'s format from `reader`: decoded only within
/// `max_pixels`.
pub fn inspect<R: BufRead + Seek>(
    reader: R,
    raster: Raster,
    max_pixels: u64,
) -> Result<Picture, NotShown> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // 8 bytes a pixel covers 16-bit RGBA; nothing else the four formats
    // make is bigger.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(1 << 20));
    let mut reader = ImageReader::with_format(reader, raster.format());
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(too_large_or_broken)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels || width > MAX_SIDE || height > MAX_SIDE {
        return Err(NotShown::TooLarge { width, height });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    let (thumb, thumb_type) = thumbnail(&image)?;
    Ok(Picture {
        width: image.width(),
        height: image.height(),
        thumb,
        thumb_type,
    })
}

/// A decoder refusing the header's size is the same verdict as ours.
fn too_large_or_broken(err: image::ImageError) -> NotShown {
    match err {
        image::ImageError::Limits(_) => NotShown::TooLarge {
            width: 0,
            height: 0,
        },
        other => NotShown::Broken(other),
    }
}

/// The image made to fit `THUMB_BOX` (never enlarged): PNG if it has
/// transparency, else JPEG.
fn thumbnail(image: &DynamicImage) -> ImageResult<(Vec<u8>, &'static str)> {
    let small = if image.width() <= THUMB_BOX && image.height() <= THUMB_BOX {
        image.clone()
    } else {
        image.thumbnail(THUMB_BOX, THUMB_BOX)
    };
    let mut out = Cursor::new(Vec::new());
    if small.color().has_alpha() {
        small.write_to(&mut out, image::ImageFormat::Png)?;
        Ok((out.into_inner(), "image/png"))
    } else {
        let rgb = small.to_rgb8();
        JpegEncoder::new_with_quality(&mut out, THUMB_QUALITY).encode_image(&rgb)?;
        Ok((out.into_inner(), "image/jpeg"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

    const PIXELS: u64 = 40_000_000;

    fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn photo(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }))
    }

    #[test]
    fn a_photo_gets_its_size_and_a_jpeg_thumbnail_that_fits_the_box() {
        let png = encoded(&photo(800, 600), ImageFormat::Png);
        let picture = inspect(Cursor::new(png), Raster::Png, PIXELS).unwrap();
        assert_eq!((picture.width, picture.height), (800, 600));
        assert_eq!(picture.thumb_type, "image/jpeg");
        let thumb = image::load_from_memory(&picture.thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (320, 240));
    }

    #[test]
    fn a_transparent_image_gets_a_png_thumbnail_and_a_small_one_is_not_enlarged() {
        let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(40, 30, Rgba([1, 2, 3, 0])));
        let picture = inspect(
            Cursor::new(encoded(&image, ImageFormat::Png)),
            Raster::Png,
            PIXELS,
        )
        .unwrap();
        assert_eq!(picture.thumb_type, "image/png");
        let thumb = image::load_from_memory(&picture.thumb).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (40, 30));
    }

    #[test]
    fn jpeg_gif_and_webp_decode_too() {
        let image = photo(64, 48);
        for (format, raster) in [
            (ImageFormat::Jpeg, Raster::Jpeg),
            (ImageFormat::Gif, Raster::Gif),
            (ImageFormat::WebP, Raster::Webp),
        ] {
            let bytes = encoded(&image, format);
            let picture = inspect(Cursor::new(bytes), raster, PIXELS).unwrap();
            assert_eq!((picture.width, picture.height), (64, 48), "{format:?}");
        }
    }

    /// A PNG of a few dozen bytes that declares `width`×`height` pixels.
    fn declared_png(width: u32, height: u32) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
            let start = out.len();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let crc = crc32(&out[start..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut png, b"IHDR", &ihdr);
        // A zlib stream of a few zero bytes: far too little, never read.
        chunk(
            &mut png,
            b"IDAT",
            &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
        );
        chunk(&mut png, b"IEND", &[]);
        png
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for byte in bytes {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header_without_decoding() {
        let bomb = declared_png(100_000, 100_000);
        assert!(bomb.len() < 100);
        let started = std::time::Instant::now();
        let refused = inspect(Cursor::new(bomb), Raster::Png, PIXELS).unwrap_err();
        assert!(matches!(refused, NotShown::TooLarge { .. }), "{refused:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn an_image_over_the_pixel_limit_but_within_the_sides_is_refused_too() {
        let refused =
            inspect(Cursor::new(declared_png(8000, 8000)), Raster::Png, PIXELS).unwrap_err();
        assert!(
            matches!(
                refused,
                NotShown::TooLarge {
                    width: 8000,
                    height: 8000
                }
            ),
            "{refused:?}"
        );
    }

    #[test]
    fn a_file_that_only_starts_like_an_image_is_broken_not_shown() {
        let fake = b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>".to_vec();
        let refused = inspect(Cursor::new(fake), Raster::Png, PIXELS).unwrap_err();
        assert!(matches!(refused, NotShown::Broken(_)), "{refused:?}");
        let truncated = declared_png(10, 10);
        assert!(inspect(Cursor::new(truncated), Raster::Png, PIXELS).is_err());
    }
}
