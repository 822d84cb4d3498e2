//! Elastic tabstops, as Go's `text/tabwriter` (in docker/cli's fork) lays
//! out `docker ps`-style tables.
//!
//! Input is cells terminated by `\t` (or `\v`); lines end at `\n` (or
//! `\f`, which also ends all columns). Tab-terminated cells on adjacent
//! lines form a column padded to its widest cell plus `padding`, and at
//! least `minwidth`. The text after a line's last tab is not part of any
//! column, so it is never padded — which is why `docker ps` rows carry no
//! trailing spaces. A line without tabs ends the column blocks above it.
//! Widths count terminal columns: East Asian wide characters take two,
//! combining marks none (docker/cli's fork uses go-runewidth for this).

use std::fmt;

#[derive(Debug, Clone)]
struct Cell {
    text: String,
    width: usize,
}

/// A buffering column aligner. Write text with [`TabWriter::write_str`]
/// (or `write!`), then take the result with [`TabWriter::finish`].
#[derive(Debug, Clone)]
pub struct TabWriter {
    minwidth: usize,
    tabwidth: usize,
    padding: usize,
    padchar: char,
    align_right: bool,
    /// Buffered lines of terminated cells; the last line is in progress.
    lines: Vec<Vec<Cell>>,
    /// Text of the cell in progress.
    cell: String,
    out: String,
}

impl TabWriter {
    /// Same parameters as Go's `tabwriter.NewWriter` (flags aside). With
    /// `padchar == '\t'` padding is done with tabs assumed `tabwidth` wide.
    pub fn new(minwidth: usize, tabwidth: usize, padding: usize, padchar: char) -> TabWriter {
        TabWriter {
            minwidth,
            tabwidth,
            padding,
            padchar,
            align_right: false,
            lines: vec![Vec::new()],
            cell: String::new(),
            out: String::new(),
        }
    }

    /// docker/cli's table settings: `NewWriter(out, 10, 1, 3, ' ', 0)`.
    pub fn docker() -> TabWriter {
        TabWriter::new(10, 1, 3, ' ')
    }

    /// Right-align cell contents (Go's `AlignRight` flag).
    pub fn align_right(mut self, yes: bool) -> TabWriter {
        self.align_right = yes && self.padchar != '\t';
        self
    }

    /// Buffers `s`. Output becomes available once a line without columns
    /// (or a `\f`) proves the lines above can no longer change.
    pub fn write_str(&mut self, s: &str) {
        for c in s.chars() {
            match c {
                '\t' | '\x0b' | '\n' | '\x0c' => {
                    self.terminate_cell();
                    if c == '\n' || c == '\x0c' {
                        let ncells = self.lines.last().map_or(0, Vec::len);
                        self.lines.push(Vec::new());
                        if c == '\x0c' || ncells == 1 {
                            // A one-cell line cannot affect later columns.
                            self.flush();
                        }
                    }
                }
                c => self.cell.push(c),
            }
        }
    }

    /// Lays out everything buffered so far, ending any open columns.
    pub fn flush(&mut self) {
        if !self.cell.is_empty() {
            self.terminate_cell();
        }
        let n = self.lines.len();
        let mut widths = Vec::new();
        self.format(&mut widths, 0, n);
        self.lines.clear();
        self.lines.push(Vec::new());
    }

    /// Takes the text laid out so far (useful to stream long outputs).
    pub fn take_output(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    /// Flushes and returns all output.
    pub fn finish(mut self) -> String {
        self.flush();
        self.out
    }

    fn terminate_cell(&mut self) {
        let text = std::mem::take(&mut self.cell);
        let width = display_width(&text);
        if let Some(line) = self.lines.last_mut() {
            line.push(Cell { text, width });
        }
    }

    /// Lays out lines `line0..line1` given the widths of the columns to the
    /// left (`widths`), recursing into each block of lines that shares the
    /// next column.
    fn format(&mut self, widths: &mut Vec<usize>, mut line0: usize, line1: usize) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            // Does this line have a cell in `column` (excluding its last cell)?
            if column + 1 >= self.lines[this].len() {
                this += 1;
                continue;
            }
            self.write_lines(widths, line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < self.lines[this].len() {
                width = width.max(self.lines[this][column].width + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format(widths, line0, this);
            widths.pop();
            line0 = this;
        }
        self.write_lines(widths, line0, line1);
    }

    fn write_lines(&mut self, widths: &[usize], line0: usize, line1: usize) {
        let total = self.lines.len();
        for i in line0..line1 {
            for (j, c) in self.lines[i].iter().enumerate() {
                let pad = widths.get(j).map(|&w| (c.width, w));
                if self.align_right {
                    if let Some((tw, cw)) = pad {
                        write_padding(&mut self.out, self.padchar, self.tabwidth, tw, cw);
                    }
                    self.out.push_str(&c.text);
                } else {
                    self.out.push_str(&c.text);
                    if let Some((tw, cw)) = pad {
                        write_padding(&mut self.out, self.padchar, self.tabwidth, tw, cw);
                    }
                }
            }
            // The last buffered line has no newline yet.
            if i + 1 < total {
                self.out.push('\n');
            }
        }
    }
}

fn write_padding(out: &mut String, padchar: char, tabwidth: usize, textw: usize, cellw: usize) {
    if padchar == '\t' {
        if tabwidth == 0 {
            return;
        }
        let cellw = cellw.div_ceil(tabwidth) * tabwidth;
        let n = cellw.saturating_sub(textw);
        out.extend(std::iter::repeat_n('\t', n.div_ceil(tabwidth)));
        return;
    }
    out.extend(std::iter::repeat_n(padchar, cellw.saturating_sub(textw)));
}

impl fmt::Write for TabWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        TabWriter::write_str(self, s);
        Ok(())
    }
}

/// Terminal width of `s`: 2 for East Asian wide/fullwidth characters and
/// emoji, 0 for combining marks, zero-width and control characters.
pub(crate) fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let u = c as u32;
    if u < 0x20 || (0x7f..0xa0).contains(&u) {
        return 0;
    }
    if u < 0x300 {
        return 1;
    }
    let zero = matches!(u,
        0x0300..=0x036f | 0x0483..=0x0489 | 0x0591..=0x05bd | 0x0610..=0x061a | 0x064b..=0x065f
        | 0x0e31 | 0x0e34..=0x0e3a | 0x0e47..=0x0e4e | 0x1ab0..=0x1aff | 0x1dc0..=0x1dff
        | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2064 | 0x20d0..=0x20ff
        | 0xfe00..=0xfe0f | 0xfe20..=0xfe2f | 0xfeff | 0xe0100..=0xe01ef);
    if zero {
        return 0;
    }
    let wide = matches!(u,
        0x1100..=0x115f | 0x231a..=0x231b | 0x2329..=0x232a | 0x23e9..=0x23ec | 0x23f0 | 0x23f3
        | 0x25fd..=0x25fe | 0x2614..=0x2615 | 0x2648..=0x2653 | 0x267f | 0x2693 | 0x26a1
        | 0x26aa..=0x26ab | 0x26bd..=0x26be | 0x26c4..=0x26c5 | 0x26ce | 0x26d4 | 0x26ea
        | 0x26f2..=0x26f3 | 0x26f5 | 0x26fa | 0x26fd | 0x2705 | 0x270a..=0x270b | 0x2728 | 0x274c
        | 0x274e | 0x2753..=0x2755 | 0x2757 | 0x2795..=0x2797 | 0x27b0 | 0x27bf | 0x2b1b..=0x2b1c
        | 0x2b50 | 0x2b55 | 0x2e80..=0x303e | 0x3041..=0x33ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff
        | 0xa000..=0xa4cf | 0xa960..=0xa97f | 0xac00..=0xd7a3 | 0xf900..=0xfaff | 0xfe10..=0xfe19
        | 0xfe30..=0xfe6f | 0xff00..=0xff60 | 0xffe0..=0xffe6 | 0x16fe0..=0x18aff | 0x1b000..=0x1b2ff
        | 0x1f004 | 0x1f0cf | 0x1f18e | 0x1f191..=0x1f19a | 0x1f200..=0x1f251 | 0x1f300..=0x1f64f
        | 0x1f680..=0x1f6ff | 0x1f7e0..=0x1f7eb | 0x1f90c..=0x1f9ff | 0x1fa70..=0x1faff
        | 0x20000..=0x2fffd | 0x30000..=0x3fffd);
    if wide { 2 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tab(input: &str) -> String {
        let mut tw = TabWriter::docker();
        tw.write_str(input);
        tw.finish()
    }

    #[test]
    fn docker_columns() {
        let got = tab("CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox:latest\tweb\n");
        assert_eq!(got, "CONTAINER ID   IMAGE            NAMES\nabc            busybox:latest   web\n");
    }

    #[test]
    fn minwidth_and_trailing_cell() {
        // Column width is max(minwidth, widest + padding); last cell unpadded.
        assert_eq!(tab("a\tb\nccc\td\n"), "a         b\nccc       d\n");
        // A trailing tab makes the last text a column too.
        assert_eq!(tab("a\tb\t\n"), "a         b         \n");
    }

    #[test]
    fn blocks_are_contiguous() {
        // From Go's docs: b and c are in distinct columns.
        let mut tw = TabWriter::new(0, 1, 1, '.');
        tw.write_str("aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n");
        assert_eq!(tw.finish(), "aaaa.bbb.d\naa...b...dd\na....\naa...cccc.eee\n");
    }

    #[test]
    fn line_without_tabs_breaks_columns() {
        assert_eq!(
            tab("a\tb\nlonger line here\nccccccccccccc\td\n"),
            "a         b\nlonger line here\nccccccccccccc   d\n"
        );
    }

    #[test]
    fn wide_chars_and_right_align() {
        assert_eq!(tab("日本\tx\nab\ty\n"), "日本      x\nab        y\n");
        let mut tw = TabWriter::new(0, 1, 1, ' ').align_right(true);
        tw.write_str("a\tb\nccc\td\n");
        assert_eq!(tw.finish(), "   ab\n cccd\n");
    }

    #[test]
    fn no_trailing_newline_and_tab_padding() {
        assert_eq!(tab("a\tb"), "a         b");
        let mut tw = TabWriter::new(0, 8, 1, '\t');
        tw.write_str("a\tb\nabcdefghij\tc\n");
        assert_eq!(tw.finish(), "a\t\tb\nabcdefghij\tc\n");
    }
}
