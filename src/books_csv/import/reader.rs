//! Reading an import file: RFC 4180 through the `csv` crate, UTF-8 with or without a
//! BOM, CRLF or LF, an optional spreadsheet hint line (`sep=;`), the delimiter taken
//! from the header line, and the header's columns matched to the file's format.

use super::{code, ErrorList, ImportError};
use crate::books_csv::format::{Delimiter, BOM};

/// The columns a file format knows, and which of them a file must have.
pub struct Columns {
    pub known: &'static [&'static str],
    pub required: &'static [&'static str],
}

/// An open file: its records after the header, and where each known column is.
pub struct Sheet<'a> {
    reader: csv::Reader<&'a [u8]>,
    /// For each known column (in the order of [`Columns::known`]), its position in a record.
    positions: Vec<Option<usize>>,
    /// How many cells the header has (a record may have fewer: trailing cells left out).
    width: usize,
    pub delimiter: Delimiter,
    record: csv::StringRecord,
    /// Records read after the header (the row number of the current one).
    rows: u32,
}

/// One data record: its row number (1 = the first record after the header) and cells.
pub struct Row<'s> {
    pub number: u32,
    record: &'s csv::StringRecord,
    positions: &'s [Option<usize>],
}

impl Row<'_> {
    /// The cell of known column `index` (of [`Columns::known`]); "" when the file has no
    /// such column or the record stops before it.
    pub fn cell(&self, index: usize) -> &str {
        self.positions
            .get(index)
            .copied()
            .flatten()
            .and_then(|at| self.record.get(at))
            .unwrap_or("")
    }
}

/// The first line, when it is the hint spreadsheets write and read (`sep=;`).
fn separator_hint(text: &str) -> Option<(Delimiter, usize)> {
    let line_end = text.find('\n').unwrap_or(text.len());
    let line = text[..line_end].trim_end_matches('\r');
    let delimiter = match line.strip_prefix("sep=")? {
        ";" => Delimiter::Semicolon,
        "," => Delimiter::Comma,
        _ => return None,
    };
    Some((delimiter, (line_end + 1).min(text.len())))
}

/// `;` when the header line has more semicolons than commas (column names hold neither).
fn detect_delimiter(header_line: &str) -> Delimiter {
    let count = |c: char| header_line.chars().filter(|&x| x == c).count();
    if count(';') > count(',') {
        Delimiter::Semicolon
    } else {
        Delimiter::Comma
    }
}

/// Cells a record may have beyond the format's columns (empty ones a spreadsheet adds).
const EXTRA_CELLS: usize = 16;

/// Follows the records as the parser will read them (RFC 4180: a cell that starts with
/// `"` is quoted up to a `"` not doubled), before it does, for two things the `csv`
/// crate does not refuse: a quoted cell never closed (it would take the rest of the file
/// into one cell and the import would look complete without those rows), and a record
/// of millions of cells (the parser keeps every cell's end: a 50 MB row of `,` would
/// cost half a gigabyte). Row numbers as everywhere (0 = the header).
fn check_shape(body: &[u8], delimiter: u8, max_cells: usize) -> Result<(), ImportError> {
    let mut row: u32 = 0;
    let mut cells = 1;
    let mut started = false; // the record has something (the parser skips empty lines)
    let mut at_cell_start = true;
    let mut quoted_since: Option<u32> = None;
    let mut i = 0;
    while i < body.len() {
        let byte = body[i];
        i += 1;
        if quoted_since.is_some() {
            if byte == b'"' {
                if body.get(i) == Some(&b'"') {
                    i += 1;
                } else {
                    quoted_since = None;
                }
            }
            continue;
        }
        match byte {
            b'"' if at_cell_start => {
                quoted_since = Some(row);
                started = true;
                at_cell_start = false;
            }
            b'\n' | b'\r' => {
                if started {
                    row += 1;
                }
                started = false;
                cells = 1;
                at_cell_start = true;
            }
            _ if byte == delimiter => {
                cells += 1;
                started = true;
                at_cell_start = true;
                if cells > max_cells {
                    return Err(ImportError::row(
                        row,
                        None,
                        code::BAD_VALUE,
                        format!("the row has more than {max_cells} cells"),
                    ));
                }
            }
            _ => {
                started = true;
                at_cell_start = false;
            }
        }
    }
    match quoted_since {
        Some(opened) => Err(ImportError::row(
            opened,
            None,
            code::BAD_VALUE,
            "a quoted cell that starts on this row is never closed (a \" inside a quoted cell is written \"\"): \
             the rest of the file would be read as that one cell",
        )),
        None => Ok(()),
    }
}

/// Where the first invalid UTF-8 byte is, as a line number, for the one error a file
/// that is not UTF-8 gets.
fn not_utf8(bytes: &[u8], error: std::str::Utf8Error) -> ImportError {
    let at = error.valid_up_to();
    let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    ImportError::file(
        code::NOT_UTF8,
        format!("the file is not UTF-8 text (an invalid byte on line {line}, byte {at}): save it as \"CSV UTF-8\""),
    )
}

impl<'a> Sheet<'a> {
    /// Opens a file and reads its header. Errors of the file as a whole (not UTF-8, no
    /// header, unknown, repeated or missing columns) end the import before any row.
    pub fn open(bytes: &'a [u8], columns: &Columns) -> Result<Sheet<'a>, Vec<ImportError>> {
        let bytes = bytes.strip_prefix(BOM.as_bytes()).unwrap_or(bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| vec![not_utf8(bytes, e)])?;
        let (hinted, start) = match separator_hint(text) {
            Some((delimiter, start)) => (Some(delimiter), start),
            None => (None, 0),
        };
        let body = &bytes[start..];
        let header_line = text[start..].lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let delimiter = hinted.unwrap_or_else(|| detect_delimiter(header_line));
        check_shape(body, delimiter.byte(), columns.known.len() + EXTRA_CELLS).map_err(|e| vec![e])?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter.byte())
            .from_reader(body);
        let mut header = csv::StringRecord::new();
        let has_header = reader.read_record(&mut header).map_err(|e| {
            vec![ImportError::file(
                code::BAD_VALUE,
                format!("the header cannot be read: {e}"),
            )]
        })?;
        if !has_header {
            return Err(vec![ImportError::file(
                code::MISSING_COLUMN,
                format!("the file is empty: it needs a header row ({})", columns.known.join(",")),
            )]);
        }
        let positions = match_header(&header, columns)?;
        Ok(Sheet {
            reader,
            positions,
            width: header.len(),
            delimiter,
            record: csv::StringRecord::new(),
            rows: 0,
        })
    }

    /// The next record, `None` at the end. A record the parser cannot read (invalid
    /// quoting) or with more non-empty cells than the header is an error of its row.
    pub fn next_row(&mut self) -> Option<Result<Row<'_>, ImportError>> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                self.rows += 1;
                let extra = self.record.iter().skip(self.width).any(|cell| !cell.trim().is_empty());
                if extra {
                    return Some(Err(ImportError::row(
                        self.rows,
                        None,
                        code::BAD_VALUE,
                        format!(
                            "the row has {} cells, the header names {} columns",
                            self.record.len(),
                            self.width
                        ),
                    )));
                }
                Some(Ok(Row {
                    number: self.rows,
                    record: &self.record,
                    positions: &self.positions,
                }))
            }
            Err(error) => {
                self.rows += 1;
                let error = ImportError::row(
                    self.rows,
                    None,
                    code::BAD_VALUE,
                    format!("the row cannot be read: {error}"),
                );
                // The reader cannot go on past an I/O error; it can past a bad record.
                Some(Err(error))
            }
        }
    }

    /// Rows read so far.
    pub fn rows_read(&self) -> u32 {
        self.rows
    }
}

/// Each header cell names a known column (case-insensitive, surrounding spaces
/// ignored), once; every required column is there.
fn match_header(header: &csv::StringRecord, columns: &Columns) -> Result<Vec<Option<usize>>, Vec<ImportError>> {
    let mut positions = vec![None; columns.known.len()];
    let mut errors = ErrorList::default();
    for (at, cell) in header.iter().enumerate() {
        let name = cell.trim().to_ascii_lowercase();
        if name.is_empty() && at + 1 == header.len() && at > 0 {
            continue; // a trailing delimiter on the header line
        }
        match columns.known.iter().position(|known| *known == name) {
            Some(index) if positions[index].is_some() => errors.push(ImportError::file_column(
                columns.known[index],
                code::DUPLICATE_COLUMN,
                format!("the header names column {name:?} twice"),
            )),
            Some(index) => positions[index] = Some(at),
            None => errors.push(ImportError::file(
                code::UNKNOWN_COLUMN,
                format!(
                    "the header names an unknown column {:?}; the columns are {}",
                    truncated(cell.trim()),
                    columns.known.join(",")
                ),
            )),
        }
    }
    for required in columns.required {
        let index = columns.known.iter().position(|known| known == required);
        if index.and_then(|i| positions[i]).is_none() {
            errors.push(ImportError::file_column(
                required,
                code::MISSING_COLUMN,
                format!("the header has no column {required:?}"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(positions)
    } else {
        Err(errors.into_vec())
    }
}

/// A cell quoted in a message: at most 40 characters of it (a hostile file's cells
/// must not make the answer large).
pub fn truncated(cell: &str) -> String {
    const MAX: usize = 40;
    if cell.chars().count() <= MAX {
        cell.to_owned()
    } else {
        cell.chars().take(MAX).chain(std::iter::once('…')).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: Columns = Columns {
        known: &["code", "name", "memo"],
        required: &["code", "name"],
    };

    fn rows(file: &str) -> Vec<(u32, String, String, String)> {
        let mut sheet = Sheet::open(file.as_bytes(), &COLUMNS).unwrap_or_else(|e| panic!("{e:?}"));
        let mut out = Vec::new();
        while let Some(row) = sheet.next_row() {
            let row = row.unwrap_or_else(|e| panic!("{e:?}"));
            out.push((
                row.number,
                row.cell(0).to_owned(),
                row.cell(1).to_owned(),
                row.cell(2).to_owned(),
            ));
        }
        out
    }

    fn header_codes(file: &[u8]) -> Vec<&'static str> {
        match Sheet::open(file, &COLUMNS) {
            Ok(_) => vec![],
            Err(errors) => errors.iter().map(|e| e.code).collect(),
        }
    }

    #[test]
    fn quoted_cells_bom_crlf_and_semicolons() {
        let file = "\u{feff}Name,CODE\r\n\"Kas, kecil\",1101\r\n\"two\nlines \"\"q\"\"\",1102\r\n";
        assert_eq!(
            rows(file),
            vec![
                (1, "1101".into(), "Kas, kecil".into(), String::new()),
                (2, "1102".into(), "two\nlines \"q\"".into(), String::new()),
            ]
        );
        let semi = "code;name;memo\n1101;Kas, besar;a;\n";
        assert_eq!(rows(semi), vec![(1, "1101".into(), "Kas, besar".into(), "a".into())]);
        let hinted = "sep=;\ncode;name\n1101;Kas\n";
        assert_eq!(rows(hinted), vec![(1, "1101".into(), "Kas".into(), String::new())]);
    }

    #[test]
    fn short_rows_are_padded_and_long_ones_refused() {
        assert_eq!(
            rows("code,name,memo\n1,a\n"),
            vec![(1, "1".into(), "a".into(), String::new())]
        );
        let mut sheet = Sheet::open(b"code,name\n1,a,extra\n", &COLUMNS).unwrap_or_else(|e| panic!("{e:?}"));
        let row = sheet.next_row().map(|r| r.err().map(|e| (e.row, e.code)));
        assert_eq!(row, Some(Some((1, code::BAD_VALUE))));
        assert!(sheet.next_row().is_none());
    }

    #[test]
    fn header_errors() {
        assert_eq!(header_codes(b"code,name,colour\n"), vec![code::UNKNOWN_COLUMN]);
        assert_eq!(header_codes(b"code,code,name\n"), vec![code::DUPLICATE_COLUMN]);
        assert_eq!(header_codes(b"code\n"), vec![code::MISSING_COLUMN]);
        assert_eq!(header_codes(b""), vec![code::MISSING_COLUMN]);
        assert_eq!(header_codes(b"code,name\n1,Kas \xff\n"), vec![code::NOT_UTF8]);
        assert!(
            header_codes(b" Code , NAME ,\n").is_empty(),
            "case, spaces and a trailing delimiter"
        );
    }

    #[test]
    fn an_unclosed_quote_and_a_row_of_endless_cells_are_refused_before_parsing() {
        let open = b"code,name,memo\n1,a,ok\n2,b,\"Pipa 1/2\"\"\n3,c,lost\n";
        let errors = Sheet::open(open, &COLUMNS).err().unwrap_or_default();
        assert_eq!(
            errors.iter().map(|e| (e.row, e.code)).collect::<Vec<_>>(),
            vec![(2, code::BAD_VALUE)]
        );
        let closed = b"code,name,memo\r\n1,a,\"x, \"\"y\"\"\r\nz\"\r\n\r\n2,b,1/2\"\n";
        assert!(
            Sheet::open(closed, &COLUMNS).is_ok(),
            "doubled quotes, a line break in a cell, a quote mid-cell"
        );
        let wide = format!("code,name\n1,{}\n", ",".repeat(100));
        let errors = Sheet::open(wide.as_bytes(), &COLUMNS).err().unwrap_or_default();
        assert_eq!(
            errors.iter().map(|e| (e.row, e.code)).collect::<Vec<_>>(),
            vec![(1, code::BAD_VALUE)]
        );
    }
}
