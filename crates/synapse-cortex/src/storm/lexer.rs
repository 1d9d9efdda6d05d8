//! The Storm lexer: terminals, their matchers and the context-sensitive scanner.
//!
//! Storm cannot be tokenized on its own: the same text lexes differently depending on what the
//! grammar accepts at that point (`foo.bar` is a command name at the start of an operator, an
//! unquoted string after `=`, tag segments after `#`). The parser therefore asks for the next
//! token together with the set of terminals it accepts there, and the scanner tries exactly those
//! terminals, in a fixed priority order, taking the first one that matches. Whitespace and
//! comments are skipped before every token.
//!
//! The terminal definitions and their priorities are facts of the Synapse 2.x grammar; the
//! matchers below are written by hand (the grammar relies on look-behind, look-ahead and
//! balanced-parenthesis scans that plain regular expressions cannot express).

use std::sync::OnceLock;

/// One terminal of the Storm grammar.
///
/// The declaration order is the scanning priority: when several terminals accepted at a point
/// match the input, the one declared first wins (not the longest match).
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Term {
    CmdOpt,
    Continue,
    Return,
    Break,
    Stop,
    Emit,
    WalkNJoinN1,
    WalkNJoinN2,
    ModSetMulti,
    LeftPivot,
    LeftJoin,
    RightJoin,
    WalkNPivoN1,
    WalkNPivoN2,
    ModSet,
    RightPivot,
    MatchHashWild,
    WildProps,
    Props,
    ArrayCondStart,
    AllTags,
    Deref,
    MatchHash,
    CaseBare,
    MCaseBare,
    ExprNeg,
    CmdName,
    EmbedProps,
    ExprUnivName,
    UnivName,
    CComment,
    ByName,
    CppComment,
    Bool,
    Empty,
    Null,
    Else,
    Fini,
    Init,
    NotOp,
    And,
    ExprPow,
    Or,
    EdgeAddN1Init,
    EdgeN1Init,
    LParNoSpace,
    ColonNoSpace,
    ExprColonNoSpace,
    Hash,
    HashSpace,
    ExprMinus,
    DefaultCase,
    ExprDivide,
    ExprModulo,
    ExprPlus,
    ExprTimes,
    Number,
    OctNumber,
    HexNumber,
    ListTokn,
    Yield,
    TryModSetMulti,
    TryModSet,
    TrySet,
    EdgeN2Init,
    CmprOther,
    ExprRelName,
    RelName,
    NonQuoteWord,
    BaseProp,
    ExprVarTokn,
    VarTokn,
    DoubleQuotedString,
    SingleQuotedString,
    TripleQuotedString,
    WildTagSegNoVar,
    ExprTagSegNoVar,
    TagSegNoVar,
    Function,
    Reverse,
    Switch,
    Catch,
    Unset,
    While,
    Elif,
    For,
    Try,
    EdgeN1JoinFini,
    EdgeN2JoinInit,
    Not,
    Cmpr,
    ColonDollar,
    As,
    CommaSpace,
    If,
    In,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN2Fini,
    EmbedQueryStart,
    EqSpace,
    RSqbNoSpace,
    CommaNoSpace,
    EqNoSpace,
    Backquote,
    Colon,
    Comma,
    Dollar,
    Dot,
    Equal,
    LBrace,
    LPar,
    LSqb,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    VBar,
    Wildcard,
    FormatText,
    CmdrTokn,
    Ws,
    WhiteTokn,
    /// End of input (never matched by the scanner; produced when only trivia remains).
    End,
}

/// Number of terminals, including [`Term::End`].
pub(crate) const N_TERMS: usize = Term::End as usize + 1;

impl Term {
    /// Every terminal in priority order (without [`Term::End`]).
    pub(crate) fn all() -> impl Iterator<Item = Term> {
        (0..Term::End as u8).map(Term::from_index)
    }

    fn from_index(idx: u8) -> Term {
        debug_assert!((idx as usize) < N_TERMS);
        // The enum is `repr(u8)` with contiguous discriminants starting at zero.
        ALL_TERMS[idx as usize]
    }

    /// The terminal's grammar name (as the reference grammar spells it).
    pub fn name(self) -> &'static str {
        TERM_INFO[self as usize].0
    }

    /// The English description used in syntax error messages.
    pub fn english(self) -> &'static str {
        TERM_INFO[self as usize].1
    }

    /// Whether the terminal is a plain string (as opposed to a pattern).
    fn literal(self) -> Option<&'static str> {
        TERM_INFO[self as usize].2
    }

    /// The scanning priority class (higher is tried first).
    fn priority(self) -> i8 {
        TERM_INFO[self as usize].3
    }

    /// Whether the terminal is skipped between tokens.
    fn is_trivia(self) -> bool {
        matches!(self, Term::Ws | Term::CComment | Term::CppComment)
    }
}

const ALL_TERMS: [Term; N_TERMS] = {
    use Term::*;
    [
        CmdOpt,
        Continue,
        Return,
        Break,
        Stop,
        Emit,
        WalkNJoinN1,
        WalkNJoinN2,
        ModSetMulti,
        LeftPivot,
        LeftJoin,
        RightJoin,
        WalkNPivoN1,
        WalkNPivoN2,
        ModSet,
        RightPivot,
        MatchHashWild,
        WildProps,
        Props,
        ArrayCondStart,
        AllTags,
        Deref,
        MatchHash,
        CaseBare,
        MCaseBare,
        ExprNeg,
        CmdName,
        EmbedProps,
        ExprUnivName,
        UnivName,
        CComment,
        ByName,
        CppComment,
        Bool,
        Empty,
        Null,
        Else,
        Fini,
        Init,
        NotOp,
        And,
        ExprPow,
        Or,
        EdgeAddN1Init,
        EdgeN1Init,
        LParNoSpace,
        ColonNoSpace,
        ExprColonNoSpace,
        Hash,
        HashSpace,
        ExprMinus,
        DefaultCase,
        ExprDivide,
        ExprModulo,
        ExprPlus,
        ExprTimes,
        Number,
        OctNumber,
        HexNumber,
        ListTokn,
        Yield,
        TryModSetMulti,
        TryModSet,
        TrySet,
        EdgeN2Init,
        CmprOther,
        ExprRelName,
        RelName,
        NonQuoteWord,
        BaseProp,
        ExprVarTokn,
        VarTokn,
        DoubleQuotedString,
        SingleQuotedString,
        TripleQuotedString,
        WildTagSegNoVar,
        ExprTagSegNoVar,
        TagSegNoVar,
        Function,
        Reverse,
        Switch,
        Catch,
        Unset,
        While,
        Elif,
        For,
        Try,
        EdgeN1JoinFini,
        EdgeN2JoinInit,
        Not,
        Cmpr,
        ColonDollar,
        As,
        CommaSpace,
        If,
        In,
        EdgeAddN2Fini,
        EdgeN1Fini,
        EdgeN2Fini,
        EmbedQueryStart,
        EqSpace,
        RSqbNoSpace,
        CommaNoSpace,
        EqNoSpace,
        Backquote,
        Colon,
        Comma,
        Dollar,
        Dot,
        Equal,
        LBrace,
        LPar,
        LSqb,
        RBrace,
        RPar,
        RSqb,
        SetTagOper,
        VBar,
        Wildcard,
        FormatText,
        CmdrTokn,
        Ws,
        WhiteTokn,
        End,
    ]
};

/// (grammar name, English description, literal text if a plain string, priority)
type Info = (&'static str, &'static str, Option<&'static str>, i8);

const TERM_INFO: [Info; N_TERMS] = [
    ("CMDOPT", "command line option", None, 4),
    ("CONTINUE", "continue", None, 4),
    ("_RETURN", "return", None, 4),
    ("BREAK", "break", None, 4),
    ("_STOP", "stop", None, 4),
    ("_EMIT", "emit", None, 4),
    ("_WALKNJOINN1", "--+>", Some("--+>"), 4),
    ("_WALKNJOINN2", "<+--", Some("<+--"), 4),
    ("MODSETMULTI", "++= or --=", None, 4),
    ("_LEFTPIVOT", "<-", None, 4),
    ("_LEFTJOIN", "<+-", Some("<+-"), 4),
    ("_RIGHTJOIN", "-+>", Some("-+>"), 4),
    ("_WALKNPIVON1", "-->", Some("-->"), 4),
    ("_WALKNPIVON2", "<--", Some("<--"), 4),
    ("MODSET", "+= or -=", None, 4),
    ("_RIGHTPIVOT", "->", Some("->"), 4),
    ("_MATCHHASHWILD", "#", None, 3),
    (
        "WILDPROPS",
        "property name potentially with wildcards",
        None,
        3,
    ),
    ("PROPS", "absolute property name", None, 3),
    ("_ARRAYCONDSTART", "*[", Some("*["), 3),
    ("ALLTAGS", "#", None, 3),
    ("_DEREF", "*", None, 3),
    ("_MATCHHASH", "#", None, 3),
    ("CASEBARE", "case value", None, 2),
    ("MCASEBARE", "case multi-value", None, 2),
    ("EXPRNEG", "-", None, 2),
    ("CMDNAME", "command name", None, 2),
    (
        "EMBEDPROPS",
        "absolute property name with embed properties",
        None,
        2,
    ),
    ("EXPRUNIVNAME", "universal property", None, 2),
    ("UNIVNAME", "universal property", None, 2),
    ("CCOMMENT", "C comment", None, 2),
    ("BYNAME", "named comparison operator", None, 2),
    ("CPPCOMMENT", "c++ comment", None, 2),
    ("BOOL", "boolean", None, 2),
    ("_EMPTY", "empty", None, 2),
    ("NULL", "null", None, 2),
    ("_ELSE", "else", None, 2),
    ("_FINI", "fini", None, 2),
    ("_INIT", "init", None, 2),
    ("NOTOP", "not", None, 2),
    ("AND", "and", Some("and"), 2),
    ("EXPRPOW", "**", Some("**"), 2),
    ("OR", "or", Some("or"), 2),
    ("_EDGEADDN1INIT", "+(", Some("+("), 2),
    ("_EDGEN1INIT", "-(", Some("-("), 2),
    ("_LPARNOSPACE", "(", None, 2),
    ("_COLONNOSPACE", ":", None, 2),
    ("_EXPRCOLONNOSPACE", ":", None, 2),
    ("_HASH", "#", None, 2),
    ("_HASHSPACE", "#", None, 2),
    ("EXPRMINUS", "-", None, 2),
    ("DEFAULTCASE", "default case", Some("*"), 2),
    ("EXPRDIVIDE", "/", Some("/"), 2),
    ("EXPRMODULO", "%", Some("%"), 2),
    ("EXPRPLUS", "+", Some("+"), 2),
    ("EXPRTIMES", "*", Some("*"), 2),
    ("NUMBER", "number", None, 1),
    ("OCTNUMBER", "number", None, 1),
    ("HEXNUMBER", "number", None, 1),
    ("LISTTOKN", "unquoted list value", None, 1),
    ("YIELD", "yield", None, 1),
    ("TRYMODSETMULTI", "?++= or ?--=", None, 1),
    ("TRYMODSET", "?+= or ?-=", None, 1),
    ("TRYSET", "?=", Some("?="), 1),
    ("_EDGEN2INIT", "<(", None, 0),
    ("CMPROTHER", "comparison operator", None, 0),
    ("EXPRRELNAME", "relative property name", None, 0),
    ("RELNAME", "relative property name", None, 0),
    ("NONQUOTEWORD", "unquoted value", None, 0),
    ("BASEPROP", "base property name", None, 0),
    ("EXPRVARTOKN", "variable", None, 0),
    ("VARTOKN", "variable", None, 0),
    ("DOUBLEQUOTEDSTRING", "double-quoted string", None, 0),
    ("SINGLEQUOTEDSTRING", "single-quoted string", None, 0),
    ("TRIPLEQUOTEDSTRING", "triple-quoted string", None, 0),
    (
        "WILDTAGSEGNOVAR",
        "tag segment potentially with asterisks",
        None,
        0,
    ),
    ("EXPRTAGSEGNOVAR", "non-variable tag segment", None, 0),
    ("TAGSEGNOVAR", "non-variable tag segment", None, 0),
    ("FUNCTION", "function", Some("function"), 0),
    ("_REVERSE", "reverse", None, 0),
    ("SWITCH", "switch", Some("switch"), 0),
    ("CATCH", "catch", Some("catch"), 0),
    ("UNSET", "unset", Some("unset"), 0),
    ("WHILE", "while", Some("while"), 0),
    ("ELIF", "elif", Some("elif"), 0),
    ("FOR", "for", Some("for"), 0),
    ("TRY", "try", Some("try"), 0),
    ("_EDGEN1JOINFINI", ")+>", Some(")+>"), 0),
    ("_EDGEN2JOININIT", "<+(", Some("<+("), 0),
    ("_NOT", "not", Some("not"), 0),
    ("CMPR", "comparison operator", None, 0),
    ("_COLONDOLLAR", ":$", None, 0),
    ("AS", "as", Some("as"), 0),
    ("COMMASPACE", ",", Some(", "), 0),
    ("IF", "if", Some("if"), 0),
    ("IN", "in", Some("in"), 0),
    ("_EDGEADDN2FINI", ")+", Some(")+"), 0),
    ("_EDGEN1FINI", ")>", Some(")>"), 0),
    ("_EDGEN2FINI", ")-", Some(")-"), 0),
    ("_EMBEDQUERYSTART", "${", Some("${"), 0),
    ("EQSPACE", "=", None, 0),
    ("RSQBNOSPACE", "]", None, 0),
    ("COMMANOSPACE", ",", None, 0),
    ("EQNOSPACE", "=", None, 0),
    ("BACKQUOTE", "`", Some("`"), 0),
    ("COLON", ":", Some(":"), 0),
    ("COMMA", ",", Some(","), 0),
    ("DOLLAR", "$", Some("$"), 0),
    ("DOT", ".", Some("."), 0),
    ("EQUAL", "=", Some("="), 0),
    ("LBRACE", "{", Some("{"), 0),
    ("LPAR", "(", Some("("), 0),
    ("LSQB", "[", Some("["), 0),
    ("RBRACE", "}", Some("}"), 0),
    ("RPAR", ")", Some(")"), 0),
    ("RSQB", "]", Some("]"), 0),
    ("SETTAGOPER", "?", Some("?"), 0),
    ("VBAR", "|", Some("|"), 0),
    ("WILDCARD", "*", Some("*"), 0),
    ("FORMATTEXT", "text within a format string", None, -1),
    (
        "CMDRTOKN",
        "An unquoted string parsed as a cmdr arg",
        None,
        -1,
    ),
    ("WS", "whitespace", None, -1),
    (
        "WHITETOKN",
        "An unquoted string terminated by whitespace",
        None,
        -1,
    ),
    ("$END", "end of input", None, -1),
];

/// A set of terminals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TermSet(u128);

impl TermSet {
    /// The empty set.
    pub const EMPTY: TermSet = TermSet(0);
    /// Every terminal (the "root" lexer used to describe unexpected input).
    pub const ALL: TermSet = TermSet((1u128 << (N_TERMS - 1)) - 1);

    /// A set from a list of terminals.
    pub const fn of(terms: &[Term]) -> TermSet {
        let mut bits = 0u128;
        let mut idx = 0;
        while idx < terms.len() {
            bits |= 1u128 << (terms[idx] as u8);
            idx += 1;
        }
        TermSet(bits)
    }

    /// The union of two sets.
    pub const fn or(self, other: TermSet) -> TermSet {
        TermSet(self.0 | other.0)
    }

    /// This set without the terminals of `other`.
    pub const fn minus(self, other: TermSet) -> TermSet {
        TermSet(self.0 & !other.0)
    }

    /// Whether the set holds `term`.
    pub const fn has(self, term: Term) -> bool {
        self.0 & (1u128 << (term as u8)) != 0
    }

    /// The intersection of two sets.
    pub const fn and(self, other: TermSet) -> TermSet {
        TermSet(self.0 & other.0)
    }

    /// The terminals of the set, in priority order.
    pub fn iter(self) -> impl Iterator<Item = Term> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let idx = bits.trailing_zeros();
            bits &= bits - 1;
            Some(Term::from_index(idx as u8))
        })
    }
}

/// A token: its terminal and its byte range in the query text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// The terminal.
    pub term: Term,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
}

/// The character scanner over one query text.
pub(crate) struct Lexer<'a> {
    text: &'a str,
}

const TRIVIA: TermSet = TermSet::of(&[Term::CComment, Term::CppComment, Term::Ws]);

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a str) -> Lexer<'a> {
        Lexer { text }
    }

    /// Scan the next token at or after `pos`, trying only the terminals of `accept`.
    ///
    /// Returns `Ok(token)` (an [`Term::End`] token at the end of the text) or `Err(pos)` with the
    /// position of the first character that no accepted terminal matches.
    pub(crate) fn scan(&self, mut pos: usize, accept: TermSet) -> Result<Token, usize> {
        let accept = accept.minus(TermSet::of(&[Term::End]));
        let tried = accept.or(TRIVIA);
        loop {
            if pos >= self.text.len() {
                return Ok(Token {
                    term: Term::End,
                    start: self.text.len(),
                    end: self.text.len(),
                });
            }
            let mut found = None;
            let first = self.text.as_bytes()[pos];
            for term in tried.and(first_byte_terms(first)).iter() {
                if term.literal().is_some() && absorbed(term, accept) {
                    // Plain strings that a pattern of the same priority also matches are only
                    // produced by renaming that pattern's token (see `retype`).
                    continue;
                }
                if let Some(end) = self.match_term(term, pos) {
                    found = Some((term, end));
                    break;
                }
            }
            let Some((term, end)) = found else {
                return Err(pos);
            };
            if term.is_trivia() {
                pos = end;
                continue;
            }
            let term = retype(term, &self.text[pos..end], accept);
            return Ok(Token {
                term,
                start: pos,
                end,
            });
        }
    }

    fn char_at(&self, pos: usize) -> Option<char> {
        self.text.get(pos..).and_then(|rest| rest.chars().next())
    }

    fn char_before(&self, pos: usize) -> Option<char> {
        self.text
            .get(..pos)
            .and_then(|head| head.chars().next_back())
    }

    fn byte(&self, pos: usize) -> Option<u8> {
        self.text.as_bytes().get(pos).copied()
    }

    fn starts_with(&self, pos: usize, lit: &str) -> bool {
        self.text
            .as_bytes()
            .get(pos..)
            .is_some_and(|rest| rest.starts_with(lit.as_bytes()))
    }

    /// Advance over characters matching `pred` and return the new position.
    fn skip_while(&self, mut pos: usize, pred: impl Fn(char) -> bool) -> usize {
        while let Some(chr) = self.char_at(pos) {
            if !pred(chr) {
                break;
            }
            pos += chr.len_utf8();
        }
        pos
    }

    fn is_space_at(&self, pos: usize) -> bool {
        self.char_at(pos).is_some_and(is_space)
    }

    fn space_before(&self, pos: usize) -> bool {
        self.char_before(pos).is_some_and(is_space)
    }

    /// Match one terminal at `pos`, returning the end of the match.
    pub(crate) fn match_term(&self, term: Term, pos: usize) -> Option<usize> {
        use Term::*;
        if let Some(lit) = term.literal() {
            return self.starts_with(pos, lit).then_some(pos + lit.len());
        }
        match term {
            CmdOpt => self.m_cmdopt(pos),
            Continue => self.m_keyword(pos, "continue", |c| is_space(c) || c == '}'),
            Return => self.m_keyword(pos, "return", |c| is_space(c) || c == '('),
            Break => self.m_keyword(pos, "break", |c| is_space(c) || c == '}'),
            Stop => self.m_keyword_or_end(pos, "stop", |c| is_space(c) || c == '}'),
            Emit => self.m_keyword(pos, "emit", is_space),
            ModSetMulti => self.m_any_lit(pos, &["++=", "--="]),
            LeftPivot => self.m_leftpivot(pos),
            ModSet => self.m_any_lit(pos, &["+=", "-="]),
            MatchHashWild => self.m_matchhashwild(pos),
            WildProps => self.m_wildprops(pos),
            Props => self.m_props(pos, false),
            AllTags => self.m_alltags(pos),
            Deref => (self.byte(pos) == Some(b'*') && self.byte(pos + 1) == Some(b'$'))
                .then_some(pos + 1),
            MatchHash => (self.byte(pos) == Some(b'#')).then_some(pos + 1),
            CaseBare => self.m_casebare(pos),
            MCaseBare => self.m_mcasebare(pos),
            ExprNeg => self.m_exprneg(pos),
            CmdName => self.m_cmdname(pos),
            EmbedProps => self.m_props(pos, true),
            ExprUnivName | UnivName => self.m_univname(pos),
            CComment => self.m_ccomment(pos),
            ByName => self.m_byname(pos),
            CppComment => self
                .starts_with(pos, "//")
                .then(|| self.skip_while(pos + 2, |c| c != '\n')),
            Bool => self
                .m_keyword_or_end(pos, "true", is_valu_end)
                .or_else(|| self.m_keyword_or_end(pos, "false", is_valu_end)),
            Empty => self.m_keyword(pos, "empty", |c| is_space(c) || c == '{'),
            Null => self.m_keyword_or_end(pos, "null", is_valu_end),
            Else => self.m_keyword(pos, "else", |c| is_space(c) || c == '{'),
            Fini => self.m_keyword(pos, "fini", |c| is_space(c) || c == '{'),
            Init => self.m_keyword(pos, "init", |c| is_space(c) || c == '{'),
            NotOp => self.m_keyword(pos, "not", |c| is_space(c) || c == '(' || c == '$'),
            LParNoSpace => {
                (self.byte(pos) == Some(b'(') && !self.space_before(pos)).then_some(pos + 1)
            }
            ColonNoSpace | ExprColonNoSpace => {
                (self.byte(pos) == Some(b':') && !self.space_before(pos)).then_some(pos + 1)
            }
            Hash => (self.byte(pos) == Some(b'#') && !self.space_before(pos)).then_some(pos + 1),
            HashSpace => {
                (self.byte(pos) == Some(b'#') && self.space_before(pos)).then_some(pos + 1)
            }
            ExprMinus => (self.byte(pos) == Some(b'-') && self.char_before(pos) != Some('-'))
                .then_some(pos + 1),
            Number => self.m_number(pos),
            OctNumber => self.m_radix_number(pos, "0o", |c| ('0'..='7').contains(&c)),
            HexNumber => self.m_radix_number(pos, "0x", |c| c.is_ascii_hexdigit()),
            ListTokn => self.m_listtokn(pos),
            Yield => self.m_keyword(pos, "yield", |c| is_space(c) || c == '{'),
            TryModSetMulti => self.m_any_lit(pos, &["?++=", "?--="]),
            TryModSet => self.m_any_lit(pos, &["?+=", "?-="]),
            EdgeN2Init => self.m_edgen2init(pos),
            CmprOther => self.m_cmprother(pos),
            ExprRelName | RelName => self.m_relname(pos),
            NonQuoteWord => self.m_nonquoteword(pos),
            BaseProp => self.m_baseprop(pos),
            ExprVarTokn | VarTokn => self
                .m_double_quoted(pos)
                .or_else(|| self.m_single_quoted(pos))
                .or_else(|| self.m_word(pos)),
            DoubleQuotedString => self.m_double_quoted(pos),
            SingleQuotedString => self.m_single_quoted(pos),
            TripleQuotedString => self.m_triple_quoted(pos),
            WildTagSegNoVar => {
                let end = self.skip_while(pos, |c| c == '*' || is_word(c));
                (end > pos).then_some(end)
            }
            ExprTagSegNoVar | TagSegNoVar => self.m_word(pos),
            Reverse => self.m_keyword(pos, "reverse", |c| is_space(c) || c == '('),
            Cmpr => self.m_any_lit(pos, &["<=", ">=", "!=", "~=", "^=", ">", "<"]),
            ColonDollar => {
                let ok = self.starts_with(pos, ":$")
                    && !self
                        .char_before(pos)
                        .is_some_and(|c| is_word(c) || c == '\'' || c == '"');
                ok.then_some(pos + 2)
            }
            EqSpace => {
                let ok = self.byte(pos) == Some(b'=')
                    && (self.space_before(pos) || self.is_space_at(pos + 1));
                ok.then_some(pos + 1)
            }
            RSqbNoSpace => self.m_nospace(pos, b']'),
            CommaNoSpace => self.m_nospace(pos, b','),
            EqNoSpace => self.m_nospace(pos, b'='),
            FormatText => self.m_formattext(pos),
            CmdrTokn => {
                let first = self.char_at(pos)?;
                if is_space(first) || "=\"'{}".contains(first) {
                    return None;
                }
                Some(self.skip_while(pos + first.len_utf8(), |c| {
                    !is_space(c) && c != '{' && c != '}'
                }))
            }
            Ws => {
                let end = self.skip_while(pos, is_space);
                (end > pos).then_some(end)
            }
            WhiteTokn => {
                let end = self.skip_while(pos, |c| !is_space(c) && c != '|');
                (end > pos).then_some(end)
            }
            // Plain strings were handled above; `End` is never scanned.
            _ => None,
        }
    }

    fn m_any_lit(&self, pos: usize, lits: &[&str]) -> Option<usize> {
        lits.iter()
            .find(|lit| self.starts_with(pos, lit))
            .map(|lit| pos + lit.len())
    }

    /// `word(?=follow)`: the keyword followed by a character accepted by `follow`.
    fn m_keyword(&self, pos: usize, word: &str, follow: impl Fn(char) -> bool) -> Option<usize> {
        let end = pos + word.len();
        (self.starts_with(pos, word) && self.char_at(end).is_some_and(follow)).then_some(end)
    }

    /// `word(?=$|follow)`.
    fn m_keyword_or_end(
        &self,
        pos: usize,
        word: &str,
        follow: impl Fn(char) -> bool,
    ) -> Option<usize> {
        let end = pos + word.len();
        (self.starts_with(pos, word) && self.char_at(end).is_none_or(follow)).then_some(end)
    }

    /// `(?<!\s)X(?!\s)` for a single ASCII character.
    fn m_nospace(&self, pos: usize, chr: u8) -> Option<usize> {
        let ok =
            self.byte(pos) == Some(chr) && !self.space_before(pos) && !self.is_space_at(pos + 1);
        ok.then_some(pos + 1)
    }

    fn m_word(&self, pos: usize) -> Option<usize> {
        let end = self.skip_while(pos, is_word);
        (end > pos).then_some(end)
    }

    /// `(?<=\s)-[a-zA-Z0-9_-]+(?![:a-zA-Z0-9_><-])`
    fn m_cmdopt(&self, pos: usize) -> Option<usize> {
        if self.byte(pos) != Some(b'-') || !self.space_before(pos) {
            return None;
        }
        let end = self.skip_while(pos + 1, |c| {
            c.is_ascii_alphanumeric() || c == '_' || c == '-'
        });
        if end == pos + 1 {
            return None;
        }
        match self.byte(end) {
            Some(b':' | b'>' | b'<') => None,
            _ => Some(end),
        }
    }

    /// `<\-[^0-9]`
    fn m_leftpivot(&self, pos: usize) -> Option<usize> {
        if !self.starts_with(pos, "<-") {
            return None;
        }
        let next = self.char_at(pos + 2)?;
        (!next.is_ascii_digit()).then_some(pos + 2 + next.len_utf8())
    }

    /// `#(?=\/[\/\*]|\s|$|\})`
    fn m_alltags(&self, pos: usize) -> Option<usize> {
        if self.byte(pos) != Some(b'#') {
            return None;
        }
        let next = pos + 1;
        let ok = self.starts_with(next, "//")
            || self.starts_with(next, "/*")
            || self.char_at(next).is_none_or(|c| is_space(c) || c == '}');
        ok.then_some(next)
    }

    /// A `[a-z_][a-z0-9_]*` name segment start, returning its end.
    fn name_seg(&self, pos: usize, first_digit_ok: bool) -> Option<usize> {
        let first = self.byte(pos)?;
        let ok = first.is_ascii_lowercase()
            || first == b'_'
            || (first_digit_ok && first.is_ascii_digit());
        if !ok {
            return None;
        }
        let mut end = pos + 1;
        while let Some(b) = self.byte(end) {
            if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' {
                end += 1;
            } else {
                break;
            }
        }
        Some(end)
    }

    /// `PROPS`: `[a-z_][a-z0-9_]*(:[a-z0-9_]+)+([:.][a-z0-9_]+)*(?![:.a-z0-9_\-])`
    /// and `EMBEDPROPS`, which also allows `::` separators after the first `:` segment.
    fn m_props(&self, pos: usize, embed: bool) -> Option<usize> {
        let mut end = self.name_seg(pos, false)?;
        // the first `:seg` is mandatory
        if self.byte(end) != Some(b':') {
            return None;
        }
        end = self.name_seg(end + 1, true)?;
        loop {
            match self.byte(end) {
                Some(b':') if embed && self.byte(end + 1) == Some(b':') => {
                    match self.name_seg(end + 2, true) {
                        Some(next) => end = next,
                        // `::` not followed by a segment: a single `:` cannot follow either
                        None => break,
                    }
                }
                Some(b':' | b'.') => match self.name_seg(end + 1, true) {
                    Some(next) => end = next,
                    None => break,
                },
                _ => break,
            }
        }
        match self.byte(end) {
            Some(b)
                if b == b':'
                    || b == b'.'
                    || b == b'-'
                    || b == b'_'
                    || b.is_ascii_lowercase()
                    || b.is_ascii_digit() =>
            {
                None
            }
            _ => Some(end),
        }
    }

    /// `[a-z_][a-z0-9_]*(:\*|(:[a-z0-9_]+)+([:.][a-z0-9_]+)*:?\*)(?![:.a-z0-9_\-\[])`
    fn m_wildprops(&self, pos: usize) -> Option<usize> {
        let first = self.name_seg(pos, false)?;
        let star_end = if self.starts_with(first, ":*") {
            first + 2
        } else {
            if self.byte(first) != Some(b':') {
                return None;
            }
            let mut end = self.name_seg(first + 1, true)?;
            while let Some(b':' | b'.') = self.byte(end) {
                match self.name_seg(end + 1, true) {
                    Some(next) => end = next,
                    None => break,
                }
            }
            if self.byte(end) == Some(b':') {
                end += 1;
            }
            if self.byte(end) != Some(b'*') {
                return None;
            }
            end + 1
        };
        match self.byte(star_end) {
            Some(b)
                if b == b':'
                    || b == b'.'
                    || b == b'-'
                    || b == b'_'
                    || b == b'['
                    || b.is_ascii_lowercase()
                    || b.is_ascii_digit() =>
            {
                None
            }
            _ => Some(star_end),
        }
    }

    /// `(?<=^|[\s\|\{\(\[+=-])\.[a-z_][a-z0-9_]*([:.][a-z0-9_]+)*`
    fn m_univname(&self, pos: usize) -> Option<usize> {
        if self.byte(pos) != Some(b'.') {
            return None;
        }
        let ok_before = match self.char_before(pos) {
            None => true,
            Some(c) => is_space(c) || "|{([+=-".contains(c),
        };
        if !ok_before {
            return None;
        }
        let mut end = self.name_seg(pos + 1, false)?;
        while let Some(b':' | b'.') = self.byte(end) {
            match self.name_seg(end + 1, true) {
                Some(next) => end = next,
                None => break,
            }
        }
        Some(end)
    }

    /// `(?<!\w):\.?[a-z_][a-z0-9_]*(?:(\:\:|\:|\.)[a-z_][a-z0-9_]*)*`
    fn m_relname(&self, pos: usize) -> Option<usize> {
        if self.byte(pos) != Some(b':') || self.char_before(pos).is_some_and(is_word) {
            return None;
        }
        let mut start = pos + 1;
        if self.byte(start) == Some(b'.') {
            start += 1;
        }
        let mut end = self.name_seg(start, false)?;
        loop {
            let sep = if self.starts_with(end, "::") {
                2
            } else if matches!(self.byte(end), Some(b':' | b'.')) {
                1
            } else {
                break;
            };
            match self.name_seg(end + sep, false) {
                Some(next) => end = next,
                None => {
                    // `::` failed: a single `:` followed by a segment cannot match either,
                    // because the next character is `:`.
                    break;
                }
            }
        }
        Some(end)
    }

    /// `[a-z_][a-z0-9_]*(?:(\:\:|\:|\.)[a-z_][a-z0-9_]*)*`
    fn m_baseprop(&self, pos: usize) -> Option<usize> {
        let mut end = self.name_seg(pos, false)?;
        loop {
            let sep = if self.starts_with(end, "::") {
                2
            } else if matches!(self.byte(end), Some(b':' | b'.')) {
                1
            } else {
                break;
            };
            match self.name_seg(end + sep, false) {
                Some(next) => end = next,
                None => break,
            }
        }
        Some(end)
    }

    /// `(?!(keywords)\b)[a-z][a-z0-9.]+(?=[\s\|\}]|$)`
    fn m_cmdname(&self, pos: usize) -> Option<usize> {
        const RESERVED: [&str; 24] = [
            "init", "empty", "fini", "function", "return", "emit", "stop", "yield", "break",
            "continue", "for", "while", "switch", "else", "elif", "if", "not", "or", "and", "try",
            "catch", "as", "reverse", "",
        ];
        if !self.byte(pos).is_some_and(|b| b.is_ascii_lowercase()) {
            return None;
        }
        for word in RESERVED.iter().filter(|w| !w.is_empty()) {
            if self.starts_with(pos, word) && !self.char_at(pos + word.len()).is_some_and(is_word) {
                return None;
            }
        }
        let mut end = pos + 1;
        while self
            .byte(end)
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.')
        {
            end += 1;
        }
        if end < pos + 2 {
            return None;
        }
        match self.char_at(end) {
            None => Some(end),
            Some(c) if is_space(c) || c == '|' || c == '}' => Some(end),
            _ => None,
        }
    }

    /// `\/\*+[^*]*\*+([^\/*][^*]*\*+)*\/`: a C comment, which must be closed.
    fn m_ccomment(&self, pos: usize) -> Option<usize> {
        if !self.starts_with(pos, "/*") {
            return None;
        }
        let rest = self.text.get(pos + 2..)?;
        rest.find("*/").map(|idx| pos + 2 + idx + 2)
    }

    /// `\w+[@?!<>^~=]*[<>=]`
    fn m_byname(&self, pos: usize) -> Option<usize> {
        let word_end = self.skip_while(pos, is_word);
        if word_end == pos {
            return None;
        }
        let run_end = self.skip_while(word_end, |c| "@?!<>^~=".contains(c));
        // the match ends at the last `<`, `>` or `=` of the operator characters
        let run = &self.text[word_end..run_end];
        run.rfind(['<', '>', '=']).map(|idx| word_end + idx + 1)
    }

    /// `(?<=[\s{])(?!\*)([^:\s"'()]+)(?=[\s]*:[\s]*\{)`
    fn m_casebare(&self, pos: usize) -> Option<usize> {
        if !self
            .char_before(pos)
            .is_some_and(|c| is_space(c) || c == '{')
            || self.byte(pos) == Some(b'*')
        {
            return None;
        }
        let end = self.skip_while(pos, |c| !is_space(c) && !":\"'()".contains(c));
        if end == pos {
            return None;
        }
        let after = self.skip_while(end, is_space);
        if self.byte(after) != Some(b':') {
            return None;
        }
        let brace = self.skip_while(after + 1, is_space);
        (self.byte(brace) == Some(b'{')).then_some(end)
    }

    /// `(?<=[\s(,])([^:\s"'(),]+)(?=\s*(?:,|\)\s*:))`
    fn m_mcasebare(&self, pos: usize) -> Option<usize> {
        if !self
            .char_before(pos)
            .is_some_and(|c| is_space(c) || c == '(' || c == ',')
        {
            return None;
        }
        let end = self.skip_while(pos, |c| !is_space(c) && !":\"'(),".contains(c));
        if end == pos {
            return None;
        }
        let after = self.skip_while(end, is_space);
        match self.byte(after) {
            Some(b',') => Some(end),
            Some(b')') => {
                let colon = self.skip_while(after + 1, is_space);
                (self.byte(colon) == Some(b':')).then_some(end)
            }
            _ => None,
        }
    }

    /// `EXPRNEG`: a unary minus that is followed by `$ : . # ( -` and is not part of a list
    /// item (no top-level comma ahead before the enclosing `)` or `}`).
    fn m_exprneg(&self, pos: usize) -> Option<usize> {
        if self.byte(pos) != Some(b'-') {
            return None;
        }
        let next = pos + 1;
        match self.byte(next) {
            Some(b'$' | b':' | b'.' | b'#' | b'(' | b'-') => {}
            Some(_) => return None,
            None => return Some(next),
        }
        (!self.comma_ahead(next)).then_some(next)
    }

    /// The common look-ahead of the number terminals and `EXPRNEG`: scanning over balanced
    /// parentheses, quoted strings and other characters, is the first top-level `,`, `)`, `}`
    /// (or the end) a comma?
    fn comma_ahead(&self, mut pos: usize) -> bool {
        loop {
            let Some(chr) = self.char_at(pos) else {
                return false;
            };
            match chr {
                ',' => return true,
                ')' | '}' => return false,
                '(' => match self.paren_group(pos) {
                    Some(end) => pos = end,
                    None => pos += 1,
                },
                '\'' => {
                    if let Some(end) = self
                        .triple_lazy_line(pos)
                        .or_else(|| self.m_single_quoted(pos))
                    {
                        pos = end;
                    } else {
                        pos += 1;
                    }
                }
                '`' => match self.backtick_elem(pos) {
                    Some(end) => pos = end,
                    None => pos += 1,
                },
                '"' => match self.dq_elem(pos) {
                    Some(end) => pos = end,
                    None => pos += 1,
                },
                _ => pos += chr.len_utf8(),
            }
        }
    }

    /// `(?<R>\(((?>[^()"'`]+|(?&R)|`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*"|'''.*?'''|'[^']*'(?!'))*)\))`
    /// at `pos` (which holds `(`): the end of the balanced group, if it closes.
    fn paren_group(&self, pos: usize) -> Option<usize> {
        let mut depth_pos = pos + 1;
        loop {
            let chr = self.char_at(depth_pos)?;
            match chr {
                ')' => return Some(depth_pos + 1),
                '(' => depth_pos = self.paren_group(depth_pos)?,
                '`' => depth_pos = self.backtick_elem(depth_pos)?,
                '"' => depth_pos = self.dq_elem(depth_pos)?,
                '\'' => {
                    depth_pos = self
                        .triple_lazy_line(depth_pos)
                        .or_else(|| self.m_single_quoted(depth_pos))?
                }
                _ => depth_pos += chr.len_utf8(),
            }
        }
    }

    /// `` `(?:[^`\\]|\\.)*` `` (`.` does not match a newline).
    fn backtick_elem(&self, pos: usize) -> Option<usize> {
        self.escaped_elem(pos, '`')
    }

    /// `"(?:[^"\\]|\\.)*"` (`.` does not match a newline).
    fn dq_elem(&self, pos: usize) -> Option<usize> {
        self.escaped_elem(pos, '"')
    }

    fn escaped_elem(&self, pos: usize, quote: char) -> Option<usize> {
        let mut idx = pos + 1;
        loop {
            let chr = self.char_at(idx)?;
            if chr == quote {
                return Some(idx + 1);
            }
            if chr == '\\' {
                let next = self.char_at(idx + 1)?;
                if next == '\n' {
                    return None;
                }
                idx += 1 + next.len_utf8();
            } else {
                idx += chr.len_utf8();
            }
        }
    }

    /// `'''.*?'''` without the dot-all flag (no newline inside).
    fn triple_lazy_line(&self, pos: usize) -> Option<usize> {
        if !self.starts_with(pos, "'''") {
            return None;
        }
        let rest = self.text.get(pos + 3..)?;
        let close = rest.find("'''")?;
        (!rest[..close].contains('\n')).then_some(pos + 3 + close + 3)
    }

    /// `NUMBER`: `-?(0+\d*(?=\.)|(?<!\d)[1-9]\d*|0+(?![1-9\.]))(\.\d*)?` plus the common tail.
    fn m_number(&self, pos: usize) -> Option<usize> {
        let mut idx = pos;
        if self.byte(idx) == Some(b'-') {
            idx += 1;
        }
        let first = self.char_at(idx)?;
        let int_end = if first == '0' {
            let zeros = self.skip_while(idx, |c| c == '0');
            let digits = self.skip_while(zeros, is_digit);
            if self.byte(digits) == Some(b'.') {
                digits
            } else {
                // `0+(?![1-9\.])` (shorter runs of zeros are followed by `0`, which the tail rejects)
                match self.char_at(zeros) {
                    Some(c) if (is_digit(c) && c != '0') || c == '.' => return None,
                    _ => zeros,
                }
            }
        } else if is_digit(first) && first != '0' {
            if self.char_before(idx).is_some_and(is_digit) {
                return None;
            }
            self.skip_while(idx, is_digit)
        } else {
            return None;
        };
        let end = if self.byte(int_end) == Some(b'.') {
            self.skip_while(int_end + 1, is_digit)
        } else {
            int_end
        };
        self.number_tail(end).then_some(end)
    }

    fn m_radix_number(
        &self,
        pos: usize,
        prefix: &str,
        digit: impl Fn(char) -> bool,
    ) -> Option<usize> {
        let mut idx = pos;
        if self.byte(idx) == Some(b'-') {
            idx += 1;
        }
        if !self.starts_with(idx, prefix) {
            return None;
        }
        let end = self.skip_while(idx + 2, digit);
        if end == idx + 2 {
            return None;
        }
        self.number_tail(end).then_some(end)
    }

    /// `(?![^\s})*\/%+\-=><!~]|<comma ahead>)`
    fn number_tail(&self, end: usize) -> bool {
        match self.char_at(end) {
            None => true,
            Some(c) if is_space(c) || "})*/%+-=><!~".contains(c) => !self.comma_ahead(end),
            Some(_) => false,
        }
    }

    /// `LISTTOKN`: `[\w\+\-\?\*\/\\]([^=,)]*[^\s,)])*`
    fn m_listtokn(&self, pos: usize) -> Option<usize> {
        let first = self.char_at(pos)?;
        if !(is_word(first) || "+-?*/\\".contains(first)) {
            return None;
        }
        let mut end = pos + first.len_utf8();
        let mut idx = end;
        while let Some(chr) = self.char_at(idx) {
            if chr == ',' || chr == ')' {
                break;
            }
            idx += chr.len_utf8();
            if !is_space(chr) {
                end = idx;
            }
        }
        Some(end)
    }

    /// `_EDGEN2INIT`: `<(` when a `)-` or `)+` closes it (scanning over balanced groups and strings).
    fn m_edgen2init(&self, pos: usize) -> Option<usize> {
        if !self.starts_with(pos, "<(") {
            return None;
        }
        self.edge_close_ahead(pos + 2, b"-+").then_some(pos + 2)
    }

    /// Scan `(?>(?&R)|'''.*?'''|`..`|".."|'..'(?!')|[^)])*` from `pos` and report whether the
    /// first top-level `)` is followed by one of `after`.
    fn edge_close_ahead(&self, mut pos: usize, after: &[u8]) -> bool {
        loop {
            let Some(chr) = self.char_at(pos) else {
                return false;
            };
            match chr {
                ')' => return self.byte(pos + 1).is_some_and(|b| after.contains(&b)),
                '(' => pos = self.paren_group(pos).unwrap_or(pos + 1),
                '\'' => {
                    pos = self
                        .triple_lazy_line(pos)
                        .or_else(|| self.m_single_quoted(pos))
                        .unwrap_or(pos + 1)
                }
                '`' => pos = self.backtick_elem(pos).unwrap_or(pos + 1),
                '"' => pos = self.dq_elem(pos).unwrap_or(pos + 1),
                _ => pos += chr.len_utf8(),
            }
        }
    }

    /// `(?!<=|>=|=(?![@?!<>^~=])|<|>|!=|~=|\^=|\?)[@?!<>^~=][@!<>^~=]*(?![@?<>^~=])`
    fn m_cmprother(&self, pos: usize) -> Option<usize> {
        let first = self.byte(pos)?;
        let second = self.byte(pos + 1);
        let is_cmpr_char = |b: u8| b"@?!<>^~=".contains(&b);
        let excluded = match first {
            b'<' | b'>' | b'?' => true,
            b'!' | b'~' | b'^' => second == Some(b'='),
            b'=' => !second.is_some_and(is_cmpr_char),
            b'@' => false,
            _ => return None,
        };
        if excluded {
            return None;
        }
        let run_char = |b: u8| b"@!<>^~=".contains(&b);
        let mut end = pos + 1;
        while self.byte(end).is_some_and(run_char) {
            end += 1;
        }
        // `(?![@?<>^~=])` after the run: only a following `?` can fail it; then back off to a
        // point followed by `!`.
        loop {
            match self.byte(end) {
                Some(b) if b == b'?' || (is_cmpr_char(b) && b != b'!') => {
                    // back off one character at a time
                    if end <= pos + 1 {
                        return None;
                    }
                    end -= 1;
                }
                _ => return Some(end),
            }
        }
    }

    /// `NONQUOTEWORD`: `(?!\/\/)[\w\-\+\?\*\/\\][^\s(),=\]}|$]*`
    fn m_nonquoteword(&self, pos: usize) -> Option<usize> {
        let first = self.char_at(pos)?;
        if !(is_word(first) || "-+?*/\\".contains(first)) || self.starts_with(pos, "//") {
            return None;
        }
        Some(self.skip_while(pos + first.len_utf8(), |c| {
            !is_space(c) && !"(),=]}|$".contains(c)
        }))
    }

    /// `".*?(?<!\\)(\\\\)*?"`: the first `"` preceded by an even number of backslashes, on the
    /// same line.
    fn m_double_quoted(&self, pos: usize) -> Option<usize> {
        if self.byte(pos) != Some(b'"') {
            return None;
        }
        let mut idx = pos + 1;
        let mut backslashes = 0usize;
        loop {
            let chr = self.char_at(idx)?;
            match chr {
                '\n' => return None,
                '"' if backslashes.is_multiple_of(2) => return Some(idx + 1),
                '\\' => backslashes += 1,
                _ => backslashes = 0,
            }
            if chr != '\\' {
                backslashes = 0;
            }
            idx += chr.len_utf8();
        }
    }

    /// `'[^']*'(?!')`
    fn m_single_quoted(&self, pos: usize) -> Option<usize> {
        if self.byte(pos) != Some(b'\'') {
            return None;
        }
        let rest = self.text.get(pos + 1..)?;
        let close = pos + 1 + rest.find('\'')?;
        (self.byte(close + 1) != Some(b'\'')).then_some(close + 1)
    }

    /// `'''.*?'''` with the dot-all flag.
    fn m_triple_quoted(&self, pos: usize) -> Option<usize> {
        if !self.starts_with(pos, "'''") {
            return None;
        }
        let rest = self.text.get(pos + 3..)?;
        rest.find("'''").map(|idx| pos + 3 + idx + 3)
    }

    /// `FORMATTEXT`: `((?<!\\)(\\\\)*\\[`{]|[^`{])+` with the dot-all flag.
    fn m_formattext(&self, pos: usize) -> Option<usize> {
        let mut idx = pos;
        while let Some(chr) = self.char_at(idx) {
            if chr == '\\' && self.char_before(idx) != Some('\\') {
                // an escaped backquote or brace preceded by pairs of backslashes
                let run_end = self.skip_while(idx, |c| c == '\\');
                let run = run_end - idx;
                if run % 2 == 1 && matches!(self.byte(run_end), Some(b'`' | b'{')) {
                    idx = run_end + 1;
                    continue;
                }
                idx += 1;
                continue;
            }
            if chr == '`' || chr == '{' {
                break;
            }
            idx += chr.len_utf8();
        }
        (idx > pos).then_some(idx)
    }

    /// `_MATCHHASHWILD`: a `#` starting a tag glob (with a `*`) that is not followed by a
    /// comparison operator.
    fn m_matchhashwild(&self, pos: usize) -> Option<usize> {
        if self.byte(pos) != Some(b'#') {
            return None;
        }
        // (?:[\w.$]|"..."|'...'(?!'))* then a `*`
        let mut idx = self.tag_parts(pos + 1, false);
        if self.byte(idx) != Some(b'*') {
            return None;
        }
        idx += 1;
        // negative look-ahead: (?:[\w*.$:]|"..."|'...')* \s* (?!edge) [@?!<>^~=]+
        idx = self.tag_parts(idx, true);
        idx = self.skip_while(idx, is_space);
        let Some(next) = self.byte(idx) else {
            return Some(pos + 1);
        };
        if !b"@?!<>^~=".contains(&next) {
            return Some(pos + 1);
        }
        if next == b'<' {
            let n2_edge = self.starts_with(idx, "<(") && self.edge_close_ahead(idx + 2, b"-");
            let join_or_pivot = self.byte(idx + 1) == Some(b'+')
                || (self.byte(idx + 1) == Some(b'-')
                    && self.char_at(idx + 2).is_some_and(|c| !c.is_ascii_digit()));
            if n2_edge || join_or_pivot {
                return Some(pos + 1);
            }
        }
        None
    }

    /// Scan tag-glob parts: word characters, `.`, `$` (and `*`, `:` when `wild`), and quoted
    /// strings.
    fn tag_parts(&self, mut idx: usize, wild: bool) -> usize {
        loop {
            let Some(chr) = self.char_at(idx) else {
                return idx;
            };
            if is_word(chr) || chr == '.' || chr == '$' || (wild && (chr == '*' || chr == ':')) {
                idx += chr.len_utf8();
            } else if chr == '"' {
                match self.dq_elem(idx) {
                    Some(end) => idx = end,
                    None => return idx,
                }
            } else if chr == '\'' {
                match self.m_single_quoted(idx) {
                    Some(end) => idx = end,
                    None => return idx,
                }
            } else {
                return idx;
            }
        }
    }
}

/// `\s` as the reference's regular expressions understand it (Unicode White_Space).
pub(crate) fn is_space(chr: char) -> bool {
    chr.is_whitespace()
}

/// `\w` as the reference's regular expressions understand it (Unicode word characters).
pub(crate) fn is_word(chr: char) -> bool {
    if chr.is_ascii() {
        return chr.is_ascii_alphanumeric() || chr == '_';
    }
    regex_syntax::is_word_character(chr)
}

/// `\d`: Unicode decimal digits.
pub(crate) fn is_digit(chr: char) -> bool {
    if chr.is_ascii() {
        return chr.is_ascii_digit();
    }
    static DIGIT: OnceLock<Option<regex::Regex>> = OnceLock::new();
    DIGIT
        .get_or_init(|| regex::Regex::new(r"^\d$").ok())
        .as_ref()
        .is_some_and(|re| re.is_match(chr.encode_utf8(&mut [0u8; 4])))
}

/// Characters that may follow `true`, `false` and `null`.
fn is_valu_end(chr: char) -> bool {
    is_space(chr) || "),]}|=".contains(chr)
}

/// The terminals that may match text starting with `byte` (a superset; used to skip hopeless
/// matchers).
fn first_byte_terms(byte: u8) -> TermSet {
    static TABLE: OnceLock<Vec<TermSet>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=255u8)
            .map(|byte| {
                Term::all()
                    .filter(|term| may_start(*term, byte))
                    .fold(TermSet::EMPTY, |set, term| set.or(TermSet::of(&[term])))
            })
            .collect()
    });
    table[byte as usize]
}

/// Whether `term` could match text whose first byte is `byte` (conservative for non-ASCII).
fn may_start(term: Term, byte: u8) -> bool {
    use Term::*;
    if let Some(lit) = term.literal() {
        return lit.as_bytes().first() == Some(&byte);
    }
    let other = byte >= 0x80;
    let word = byte.is_ascii_alphanumeric() || byte == b'_' || other;
    let space = matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let maybe_space = space || other;
    let is = |chars: &[u8]| chars.contains(&byte);
    match term {
        CmdOpt | ExprNeg | ExprMinus => byte == b'-',
        Continue => byte == b'c',
        Return | Reverse => byte == b'r',
        Break => byte == b'b',
        Stop => byte == b's',
        Emit | Empty | Else => byte == b'e',
        ModSetMulti | ModSet => is(b"+-"),
        LeftPivot | EdgeN2Init => byte == b'<',
        MatchHashWild | AllTags | MatchHash | Hash | HashSpace => byte == b'#',
        WildProps | Props | EmbedProps | BaseProp => byte.is_ascii_lowercase() || byte == b'_',
        Deref => byte == b'*',
        CaseBare => !space && !is(b":\"'()*"),
        MCaseBare => !space && !is(b":\"'(),"),
        CmdName => byte.is_ascii_lowercase(),
        ExprUnivName | UnivName => byte == b'.',
        CComment | CppComment => byte == b'/',
        ByName | ExprTagSegNoVar | TagSegNoVar => word,
        Bool => is(b"tf"),
        Null | NotOp => byte == b'n',
        Fini => byte == b'f',
        Init => byte == b'i',
        LParNoSpace => byte == b'(',
        ColonNoSpace | ExprColonNoSpace | ExprRelName | RelName | ColonDollar => byte == b':',
        Number | OctNumber | HexNumber => byte == b'-' || byte.is_ascii_digit() || other,
        ListTokn | NonQuoteWord => word || is(b"+-?*/\\"),
        Yield => byte == b'y',
        TryModSetMulti | TryModSet => byte == b'?',
        CmprOther => is(b"@!^~="),
        ExprVarTokn | VarTokn => word || is(b"\"'"),
        DoubleQuotedString => byte == b'"',
        SingleQuotedString | TripleQuotedString => byte == b'\'',
        WildTagSegNoVar => word || byte == b'*',
        Cmpr => is(b"<>!~^"),
        EqSpace | EqNoSpace => byte == b'=',
        RSqbNoSpace => byte == b']',
        CommaNoSpace => byte == b',',
        FormatText => !is(b"`{"),
        CmdrTokn => !space && !is(b"=\"'{}"),
        Ws => maybe_space,
        WhiteTokn => !space && byte != b'|',
        _ => false,
    }
}

/// Whether the plain-string terminal `lit` is shadowed, in a scanner accepting `accept`, by a
/// pattern terminal of the same priority that matches the whole string.
fn absorbed(lit: Term, accept: TermSet) -> bool {
    absorbers(lit).iter().any(|pat| accept.has(*pat))
}

/// Rename a pattern token to the plain-string terminal it spells, when that string terminal is
/// accepted and shadowed by the pattern (`for` matched as an unquoted word is the `for` keyword).
fn retype(term: Term, text: &str, accept: TermSet) -> Term {
    if term.literal().is_some() {
        return term;
    }
    for lit in accept.iter() {
        if lit.literal() == Some(text) && absorbers(lit).contains(&term) {
            return lit;
        }
    }
    term
}

/// The pattern terminals of equal priority that match the whole text of a plain-string terminal.
fn absorbers(lit: Term) -> &'static [Term] {
    static TABLE: OnceLock<Vec<Vec<Term>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = vec![Vec::new(); N_TERMS];
        for lit_term in Term::all() {
            let Some(text) = lit_term.literal() else {
                continue;
            };
            let lexer = Lexer::new(text);
            for pat in Term::all() {
                if pat.literal().is_none()
                    && pat.priority() == lit_term.priority()
                    && lexer.match_term(pat, 0) == Some(text.len())
                {
                    table[lit_term as usize].push(pat);
                }
            }
        }
        table
    });
    &table[lit as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_all(text: &str, accept: TermSet) -> Vec<(Term, &str)> {
        let lexer = Lexer::new(text);
        let mut pos = 0;
        let mut out = Vec::new();
        while let Ok(tok) = lexer.scan(pos, accept) {
            if tok.term == Term::End {
                break;
            }
            out.push((tok.term, &text[tok.start..tok.end]));
            pos = tok.end;
        }
        out
    }

    #[test]
    fn absorption_table_matches_the_grammar() {
        use Term::*;
        let word_like = [
            TagSegNoVar,
            WildTagSegNoVar,
            ExprTagSegNoVar,
            ExprVarTokn,
            NonQuoteWord,
            VarTokn,
            BaseProp,
        ];
        let mut expect: Vec<(Term, Vec<Term>)> = vec![
            (TrySet, vec![ListTokn]),
            (SetTagOper, vec![NonQuoteWord]),
            (Wildcard, vec![WildTagSegNoVar, NonQuoteWord]),
            (WalkNPivoN2, vec![LeftPivot]),
            (RSqb, vec![RSqbNoSpace]),
            (Equal, vec![EqNoSpace]),
            (Comma, vec![CommaNoSpace]),
        ];
        for kw in [
            Unset, Not, Catch, As, Try, For, In, While, Switch, Elif, If, Function,
        ] {
            expect.push((kw, word_like.to_vec()));
        }
        for term in Term::all() {
            let mut want = expect
                .iter()
                .find(|(t, _)| *t == term)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            want.sort();
            let mut got = absorbers(term).to_vec();
            got.sort();
            assert_eq!(got, want, "absorbers of {term:?}");
        }
    }

    #[test]
    fn first_byte_filter_never_hides_a_match() {
        let suffixes = [
            "",
            " ",
            "x",
            "foo:bar",
            ":bar",
            "$x",
            "(",
            ")",
            "{",
            "}",
            "=",
            "==",
            "*",
            "a:b*",
            "--x",
            "-x",
            "5",
            "x5 ",
            "0x1f ",
            "o7 ",
            ".5 ",
            "'x'",
            "\"x\"",
            "''x'''",
            "(refs)- *",
            "(refs)+ x",
            "foo)",
            "**",
            "#",
            "[",
            "]",
            "<",
            ">",
            "/x*/",
            "\n",
            "`",
            "é",
            "\u{2028}",
            "ull ",
            "rue ",
            "alse ",
        ];
        let firsts: Vec<String> = (1u8..128)
            .map(|b| char::from(b).to_string())
            .chain(["é", "\u{2028}", "\u{a0}", "ß", "٣"].map(String::from))
            .collect();
        for first in &firsts {
            for suffix in suffixes {
                let text = format!("{first}{suffix}");
                let lexer = Lexer::new(&text);
                for term in Term::all() {
                    if lexer.match_term(term, 0).is_some() {
                        assert!(
                            may_start(term, text.as_bytes()[0]),
                            "{term:?} matches {text:?} but is filtered out"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn keywords_are_retyped_only_when_accepted() {
        let accept = TermSet::of(&[Term::NonQuoteWord, Term::For]);
        assert_eq!(lex_all("for", accept), vec![(Term::For, "for")]);
        assert_eq!(
            lex_all("format", accept),
            vec![(Term::NonQuoteWord, "format")]
        );
        let accept = TermSet::of(&[Term::NonQuoteWord]);
        assert_eq!(lex_all("for", accept), vec![(Term::NonQuoteWord, "for")]);
        // without an absorbing pattern the keyword matches as a prefix
        let accept = TermSet::of(&[Term::For, Term::TagSegNoVar]);
        assert_eq!(lex_all("for", accept), vec![(Term::For, "for")]);
    }

    #[test]
    fn left_pivot_eats_one_character() {
        let accept = TermSet::of(&[Term::LeftPivot, Term::WalkNPivoN2, Term::Wildcard]);
        assert_eq!(
            lex_all("<- *", accept),
            vec![(Term::LeftPivot, "<- "), (Term::Wildcard, "*")]
        );
        assert_eq!(
            lex_all("<-- *", accept),
            vec![(Term::WalkNPivoN2, "<--"), (Term::Wildcard, "*")]
        );
    }

    #[test]
    fn numbers_need_an_operator_or_space_after_them() {
        let number = |text: &str, term: Term| Lexer::new(text).match_term(term, 0);
        assert_eq!(number("5+100%3)", Term::Number), Some(1));
        assert_eq!(number("100%3)", Term::Number), Some(3));
        assert_eq!(number("1, 2)", Term::Number), None); // followed by a comma: a list item
        assert_eq!(number("(1), 2)", Term::Number), None);
        assert_eq!(number("0x10 ", Term::Number), None);
        assert_eq!(number("0x10 ", Term::HexNumber), Some(4));
        assert_eq!(number("0o7)", Term::OctNumber), Some(3));
        assert_eq!(number("007)", Term::Number), None);
        assert_eq!(number("1.5)", Term::Number), Some(3));
        assert_eq!(number("-3", Term::Number), Some(2));
        assert_eq!(number("5x", Term::Number), None);
        assert_eq!(number("1 + (2, 3))", Term::Number), Some(1)); // the comma is nested
    }

    #[test]
    fn strings() {
        let lexer = Lexer::new(r#""a\"b" "a\\" 'x''y' '''t''' "open"#);
        assert_eq!(lexer.match_term(Term::DoubleQuotedString, 0), Some(6));
        assert_eq!(lexer.match_term(Term::DoubleQuotedString, 7), Some(12));
        assert_eq!(lexer.match_term(Term::SingleQuotedString, 13), None);
        assert_eq!(lexer.match_term(Term::TripleQuotedString, 20), Some(27));
        assert_eq!(lexer.match_term(Term::DoubleQuotedString, 28), None);
    }

    #[test]
    fn edge_n2_init_needs_a_closing_edge() {
        let lexer = Lexer::new("<(refs)- * <(2) <(\"a)\")+ x");
        assert_eq!(lexer.match_term(Term::EdgeN2Init, 0), Some(2));
        assert_eq!(lexer.match_term(Term::EdgeN2Init, 11), None);
        assert_eq!(lexer.match_term(Term::EdgeN2Init, 16), Some(18));
    }

    #[test]
    fn tag_glob_hash() {
        let lexer = Lexer::new("#foo.* #foo.*=2 #foo.* <(refs)- * #foo");
        assert_eq!(lexer.match_term(Term::MatchHashWild, 0), Some(1));
        assert_eq!(lexer.match_term(Term::MatchHashWild, 7), None);
        assert_eq!(lexer.match_term(Term::MatchHashWild, 16), Some(17));
        assert_eq!(lexer.match_term(Term::MatchHashWild, 34), None);
    }

    #[test]
    fn cmprother_backs_off_before_question_mark() {
        let lexer = Lexer::new("@=?x !!? =~ == <=");
        assert_eq!(lexer.match_term(Term::CmprOther, 0), None);
        assert_eq!(lexer.match_term(Term::CmprOther, 5), Some(6));
        assert_eq!(lexer.match_term(Term::CmprOther, 9), Some(11));
        assert_eq!(lexer.match_term(Term::CmprOther, 12), Some(14));
        assert_eq!(lexer.match_term(Term::CmprOther, 15), None);
    }
}
