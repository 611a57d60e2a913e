/// Tokenises a caption the way pycocoevalcap's `PTBTokenizer` wrapper leaves it for its scorers: Stanford
/// CoreNLP 3.4.1's `PTBTokenizer -preserveLines -lowerCase`, tokens joined by single spaces, then the tokens
/// in ptbtokenizer.py's `PUNCTUATIONS` removed.
///
/// This is an approximation of the Java tokenizer written for plain English captions, not a port of its
/// lexer. What it does, in PTBTokenizer's order (split, lower-case each token, drop):
/// - splits at whitespace (a newline is a space, as the wrapper replaces it);
/// - splits off `, ; : ! ? ( ) [ ] { } " ` $ %` as tokens of their own, except a comma or colon between
///   two digits (`1,000`, `10:30`); PTB's bracket tokens are `-LRB-`, `-RRB-`, `-LSB-`, `-RSB-`, `-LCB-`,
///   `-RCB-`;
/// - splits off a word's final period unless the word is an abbreviation (a period inside it, as `e.g.`,
///   or one of mr mrs ms dr prof st jr sr etc vs); runs of two or more periods and `…` are an ellipsis;
///   em and en dashes are `--`; a word made only of hyphens is a token (hyphenated words stay whole);
/// - splits quotes (typographic ones included) off the ends of words, and the English clitics PTB splits:
///   `n't 's 're 've 'll 'd 'm` (`don't` is `do n't`, `can't` is `ca n't`, `person's` is `person 's`),
///   and `cannot gonna gotta wanna lemme gimme` (`can not`, `gon na`, ...);
/// - lower-cases each token (`Locale.ENGLISH` in Java, Unicode default case mapping here);
/// - drops the tokens `'' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;`, comparing case-sensitively
///   after lower-casing, as the wrapper does. So, as with the real pipeline, the bracket tokens survive as
///   `-lrb-`, `-rrb-`, `-lsb-`, ... (CoreNLP lower-cases `-LRB-` before the wrapper compares it with the
///   upper-case list).
///
/// Known differences from the Java tokenizer: no PTB escaping of `/` and `*` (3.4.1 may write `\/`), no
/// `&amp;`-style entity handling, no URL, e-mail, emoticon or multi-word-number rules, and a fixed short
/// abbreviation list where the lexer has a longer one. On lower-case word-and-punctuation captions such as
/// HumanML3D's the output is the same.
public func captionTokens(_ caption: String) -> String {
    var raw: [String] = []
    var word = ""
    func flush() {
        if !word.isEmpty { raw += wordTokens(word) }
        word = ""
    }
    let chars = Array(caption)
    for (i, c) in chars.enumerated() {
        if c.isWhitespace { flush(); continue }
        if let mapped = dashOrEllipsis[c] { flush(); raw.append(mapped); continue }
        if let token = separateToken(c) {
            let betweenDigits = (c == "," || c == ":") && i > 0 && i + 1 < chars.count && chars[i - 1].isNumber && chars[i + 1].isNumber
            if !betweenDigits { flush(); raw.append(token); continue }
        }
        word.append(quoteNormalised[c] ?? c)
    }
    flush()
    return raw.map { $0.lowercased() }.filter { !ptbDroppedTokens.contains($0) }.joined(separator: " ")
}

/// ptbtokenizer.py's `PUNCTUATIONS`, compared with the lower-cased tokens as the wrapper does.
let ptbDroppedTokens: Set<String> = ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"]

private let dashOrEllipsis: [Character: String] = ["\u{2014}": "--", "\u{2013}": "--", "\u{2026}": "..."]

/// Typographic single quotes as the ASCII apostrophe PTB's clitic and quote rules are written for (PTB
/// normalises them the same way); typographic double quotes are separators, below.
private let quoteNormalised: [Character: Character] = ["\u{2018}": "'", "\u{2019}": "'"]

/// The token a character always forms on its own, in PTB's spelling.
private func separateToken(_ c: Character) -> String? {
    switch c {
    case "(": return "-LRB-"
    case ")": return "-RRB-"
    case "[": return "-LSB-"
    case "]": return "-RSB-"
    case "{": return "-LCB-"
    case "}": return "-RCB-"
    case "\"", "\u{201C}", "\u{201D}", "\u{201E}": return "''"
    case "`": return "`"
    case ",", ";", ":", "!", "?", "$", "%": return String(c)
    default: return nil
    }
}

private let abbreviations: Set<String> = ["mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "etc", "vs"]
private let clitics = ["n't", "'s", "'re", "'ve", "'ll", "'d", "'m"]
private let assimilations: [String: [String]] = [
    "cannot": ["can", "not"], "gonna": ["gon", "na"], "gotta": ["got", "ta"], "wanna": ["wan", "na"],
    "lemme": ["lem", "me"], "gimme": ["gim", "me"],
]

/// PTB's treatment of one whitespace- and separator-free piece: ellipses inside it, quotes and a final
/// period at its ends, then clitics.
private func wordTokens(_ piece: String) -> [String] {
    // An inner run of two or more periods ("walks...then") is an ellipsis token between two words.
    var parts: [String] = []
    var current = ""
    var periods = 0
    for c in piece {
        if c == "." { periods += 1; continue }
        if periods >= 2 { parts.append(current); parts.append("..."); current = "" } else if periods == 1 { current.append(".") }
        periods = 0
        current.append(c)
    }
    if periods >= 2 { parts.append(current); parts.append("...") } else { current += String(repeating: ".", count: periods); parts.append(current) }

    var out: [String] = []
    for part in parts where !part.isEmpty {
        if part == "..." { out.append(part); continue }
        out += trimmedWordTokens(part)
    }
    return out
}

private func trimmedWordTokens(_ piece: String) -> [String] {
    if piece.allSatisfy({ $0 == "-" }) { return [piece] }
    var w = piece
    var prefix: [String] = [], suffix: [String] = []
    while w.count > 1 {
        let lower = w.lowercased()
        if w.hasPrefix("'") && !clitics.contains(lower) { prefix.append("`"); w.removeFirst(); continue }
        if w.hasSuffix("'") { suffix.insert("'", at: 0); w.removeLast(); continue }
        if w.hasSuffix(".") {
            let body = String(w.dropLast())
            if body.contains(".") || abbreviations.contains(body.lowercased()) { break }
            suffix.insert(".", at: 0); w.removeLast(); continue
        }
        break
    }
    return prefix + splitClitics(w) + suffix
}

private func splitClitics(_ w: String) -> [String] {
    let lower = w.lowercased()
    if let parts = assimilations[lower] {
        // Keep the original letters (case is dropped later); only the split point comes from the table.
        let cut = w.index(w.startIndex, offsetBy: parts[0].count)
        return [String(w[..<cut]), String(w[cut...])]
    }
    for clitic in clitics where lower.count > clitic.count && lower.hasSuffix(clitic) {
        let cut = w.index(w.endIndex, offsetBy: -clitic.count)
        return [String(w[..<cut]), String(w[cut...])]
    }
    return [w]
}
