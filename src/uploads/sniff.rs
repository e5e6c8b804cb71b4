//! An upload's type, read from its first bytes with `infer` (magic
//! numbers), never from the name the client gave nor its `Content-Type`:
//! an HTML page named `cat.png` is `text/html`, and served as a download.
//!
//! Only PNG, JPEG, GIF and WebP can become images shown inline, and only
//! once they have decoded within the limits (`picture`). SVG is named as
//! such (a client can say "SVG image") but is never one of them: it is a
//! document that can carry script, so it is only ever a download.

/// Bytes read before the type is decided (what `infer` and the SVG and text
/// checks look at).
pub const SNIFF_BYTES: usize = 8 * 1024;

/// The image formats that may be shown inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Raster {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl Raster {
    pub fn format(self) -> image::ImageFormat {
        match self {
            Raster::Png => image::ImageFormat::Png,
            Raster::Jpeg => image::ImageFormat::Jpeg,
            Raster::Gif => image::ImageFormat::Gif,
            Raster::Webp => image::ImageFormat::WebP,
        }
    }
}

/// What the first bytes say a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sniffed {
    pub mime: &'static str,
    /// Set when it says it is an image the page may show (it still has to
    /// decode).
    pub raster: Option<Raster>,
}

pub const SVG: &str = "image/svg+xml";
pub const TEXT: &str = "text/plain";
pub const BINARY: &str = "application/octet-stream";

/// The type of a file that starts with `head` (its first `SNIFF_BYTES`, or
/// all of it if shorter).
pub fn sniff(head: &[u8]) -> Sniffed {
    let found = infer::get(head).map(|kind| kind.mime_type());
    let raster = match found {
        Some("image/png") => Some(Raster::Png),
        Some("image/jpeg") => Some(Raster::Jpeg),
        Some("image/gif") => Some(Raster::Gif),
        Some("image/webp") => Some(Raster::Webp),
        _ => None,
    };
    if let (Some(mime), Some(_)) = (found, raster) {
        return Sniffed { mime, raster };
    }
    let text = is_text(head);
    // infer knows HTML and XML by how they start; an SVG is XML (or bare).
    let mime = match found {
        Some(mime) if mime != "text/xml" => mime,
        _ if text && is_svg(head) => SVG,
        Some(mime) => mime,
        None if text => TEXT,
        None => BINARY,
    };
    Sniffed { mime, raster: None }
}

/// Text that holds an `<svg` element (after an XML prolog, comments, a
/// doctype or a byte-order mark: it is enough that it is there).
fn is_svg(head: &[u8]) -> bool {
    head.windows(4).any(|w| w.eq_ignore_ascii_case(b"<svg"))
}

/// UTF-8 without NUL bytes (a character cut at the end of `head` is fine).
fn is_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(err) => err.error_len().is_none() && head.len() >= SNIFF_BYTES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn png_jpeg_gif_and_webp_are_images_by_their_magic_numbers() {
        assert_eq!(sniff(PNG).raster, Some(Raster::Png));
        assert_eq!(
            sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF").raster,
            Some(Raster::Jpeg)
        );
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0").raster, Some(Raster::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 ").raster, Some(Raster::Webp));
        assert_eq!(sniff(PNG).mime, "image/png");
    }

    #[test]
    fn html_is_html_whatever_the_file_was_called() {
        let page = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
        let sniffed = sniff(page);
        assert_eq!(sniffed.mime, "text/html");
        assert_eq!(sniffed.raster, None);
    }

    #[test]
    fn svg_is_named_but_never_an_image_to_show() {
        let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
        assert_eq!(
            sniff(svg),
            Sniffed {
                mime: SVG,
                raster: None
            }
        );
        let bare = b"  <SVG onload=\"alert(1)\"></SVG>";
        assert_eq!(sniff(bare).mime, SVG);
    }

    #[test]
    fn other_text_is_plain_text_and_anything_else_is_binary() {
        assert_eq!(sniff(b"hello, world\n").mime, TEXT);
        assert_eq!(sniff("grüße".as_bytes()).mime, TEXT);
        assert_eq!(sniff(b"\x00\x01\x02\x03").mime, BINARY);
        assert_eq!(sniff(b"\xC3\x28 not utf-8").mime, BINARY);
        assert_eq!(sniff(b"").mime, BINARY);
    }

    #[test]
    fn a_character_cut_by_the_sniff_window_is_still_text() {
        let mut head = "a".repeat(SNIFF_BYTES - 1).into_bytes();
        head.push(0xC3); // the first byte of "é"
        assert_eq!(sniff(&head).mime, TEXT);
    }

    #[test]
    fn a_zip_is_what_infer_says_it_is() {
        assert_eq!(sniff(b"PK\x03\x04\x14\0\0\0\x08\0").mime, "application/zip");
    }
}
