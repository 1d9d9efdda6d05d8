//! The terminal sets the parser scans with, one per grammar position.
//!
//! Storm is lexed in context: after each token the parser tells the lexer which terminals may
//! come next, and the lexer tries exactly those (in priority order). These sets are the ones the
//! reference grammar's parser states accept at the same positions (states merged by the LALR
//! construction accept more than strictly necessary, and those extra terminals change how some
//! text lexes, so they are kept). Each set is named after the position it is used at.
//!
//! The constants after [`OPER_START`] are printed by `tests/storm_termsets.py` (run with the
//! reference's Python); a test checks they still match, and the `storm_refparse` fixture test
//! checks that the parser built on them agrees with the reference.

use super::lexer::Term::*;
use super::lexer::TermSet;

/// Terminals that start an operator.
pub(crate) const OPER_START: TermSet = TermSet::of(&[
    Break,
    CmdName,
    Continue,
    Dollar,
    EmbedProps,
    ExprMinus,
    ExprPlus,
    For,
    Function,
    If,
    LBrace,
    LPar,
    LSqb,
    Props,
    RelName,
    Switch,
    Try,
    UnivName,
    While,
    WildProps,
    Yield,
    ColonDollar,
    Deref,
    EdgeAddN1Init,
    EdgeN1Init,
    EdgeN2Init,
    EdgeN2JoinInit,
    Emit,
    Empty,
    Fini,
    Hash,
    HashSpace,
    Init,
    LeftJoin,
    LeftPivot,
    Return,
    Reverse,
    RightJoin,
    RightPivot,
    Stop,
    WalkNJoinN1,
    WalkNJoinN2,
    WalkNPivoN1,
    WalkNPivoN2,
]);

/// At the start of a query.
pub(crate) const Q_START: TermSet = OPER_START.or(TermSet::of(&[End, VBar]));
/// After the opening brace of a subquery or embedded query.
pub(crate) const Q_BRACE_START: TermSet = OPER_START.or(TermSet::of(&[RBrace, VBar]));
/// After a pipe that starts a query.
pub(crate) const Q_AFTER_LEAD_PIPE: TermSet = OPER_START.or(TermSet::of(&[End, RBrace]));
/// After a pipe between operators.
pub(crate) const Q_AFTER_PIPE: TermSet = OPER_START.or(TermSet::of(&[]));
/// After an operator that cannot continue.
pub(crate) const Q_FOLLOW: TermSet = OPER_START.or(TermSet::of(&[End, RBrace, VBar]));
/// After the opening bracket of an edit block.
pub(crate) const EDIT_START: TermSet = TermSet::of(&[
    Dot,
    ExprMinus,
    ExprPlus,
    LPar,
    Props,
    RelName,
    RSqb,
    UnivName,
    ColonDollar,
    Deref,
    EdgeAddN1Init,
    EdgeN1Init,
    EdgeN2Init,
]);
/// After the parenthesis of a parenthesized node add.
pub(crate) const EDIT_PARENS_START: TermSet = TermSet::of(&[Props, Deref]);
/// After a parenthesized node add.
pub(crate) const AFTER_EDIT_PARENS: TermSet = TermSet::of(&[
    Dot,
    ExprMinus,
    ExprPlus,
    LPar,
    Props,
    RelName,
    RPar,
    RSqb,
    UnivName,
    ColonDollar,
    Deref,
    EdgeAddN1Init,
    EdgeN1Init,
    EdgeN2Init,
]);
/// After the form of a node add.
pub(crate) const NODE_ADD_OPER: TermSet =
    TermSet::of(&[EqNoSpace, EqSpace, ModSet, TryModSet, TrySet]);
/// After a relative prop in an edit.
pub(crate) const RELPROP_IN_EDIT: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    Cmpr,
    CmprOther,
    Dot,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    ModSet,
    ModSetMulti,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    TryModSet,
    TryModSetMulti,
    TrySet,
    VBar,
    ArrayCondStart,
]));
/// After a universal prop in an edit.
pub(crate) const UNIVPROP_IN_EDIT: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    CmprOther,
    Comma,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    ModSet,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    SingleQuotedString,
    TripleQuotedString,
    TryModSet,
    TrySet,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN1JoinFini,
    EdgeN2Fini,
    EmbedQueryStart,
]));
/// After `+` in an edit block.
pub(crate) const EDIT_PLUS: TermSet = TermSet::of(&[SetTagOper, Hash]);
/// After `+?` in an edit block.
pub(crate) const HASH_ONLY: TermSet = TermSet::of(&[Hash]);
/// After `-` in an edit block.
pub(crate) const EDIT_MINUS: TermSet = TermSet::of(&[Dot, RelName, UnivName, ColonDollar, Hash]);
/// After the verb of an edge edit.
pub(crate) const EDGE_EDIT_TARGET: TermSet = TermSet::of(&[Dollar, LBrace]);
/// After `*unset` in a conditional prop set.
pub(crate) const COND_SET_OPER: TermSet = TermSet::of(&[Equal, TrySet]);
/// After the `*` of a conditional prop set.
pub(crate) const UNSET_ONLY: TermSet = TermSet::of(&[Unset]);
/// After a name in the variable of a conditional prop set.
pub(crate) const COND_VAR_AFTER: TermSet = TermSet::of(&[Dot, Equal, TrySet, LParNoSpace]);
/// After a dot in the variable of a conditional prop set.
pub(crate) const COND_VAR_DEREF_KEY: TermSet = TermSet::of(&[Dollar, LPar, VarTokn]);
/// Where a value starts.
pub(crate) const VALU_START: TermSet = TermSet::of(&[
    Backquote,
    Dollar,
    Dot,
    DoubleQuotedString,
    LBrace,
    LPar,
    NonQuoteWord,
    RelName,
    SingleQuotedString,
    TripleQuotedString,
    UnivName,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After an unquoted word value.
pub(crate) const VF_WORD: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Comma,
    Dot,
    Or,
    RBrace,
    RPar,
    RSqb,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN2Fini,
]));
/// After a quoted string value (or a relative prop value).
pub(crate) const VF_STR: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    Comma,
    Dot,
    DoubleQuotedString,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SingleQuotedString,
    TripleQuotedString,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN2Fini,
    EmbedQueryStart,
]));
/// After a universal prop value (or a tag prop name).
pub(crate) const VF_UNIV: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    CmprOther,
    Comma,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    ModSet,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    SingleQuotedString,
    TripleQuotedString,
    TryModSet,
    TrySet,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN1JoinFini,
    EdgeN2Fini,
    EmbedQueryStart,
]));
/// After a variable, a dereferenced name or a call in a value.
pub(crate) const VF_VAR: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    CmprOther,
    Comma,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    ModSet,
    ModSetMulti,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    SingleQuotedString,
    TripleQuotedString,
    TryModSet,
    TryModSetMulti,
    TrySet,
    VBar,
    ArrayCondStart,
    ColonNoSpace,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN1JoinFini,
    EdgeN2Fini,
    EmbedQueryStart,
    LParNoSpace,
]));
/// After `$( ... )` or a format string in a value.
pub(crate) const VF_EXPR: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    CmprOther,
    Colon,
    Comma,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    EqSpace,
    ExprDivide,
    ExprModulo,
    ExprPow,
    ExprTimes,
    ModSet,
    ModSetMulti,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    SingleQuotedString,
    TripleQuotedString,
    TryModSet,
    TryModSetMulti,
    TrySet,
    VBar,
    ArrayCondStart,
    ColonNoSpace,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN1JoinFini,
    EdgeN2Fini,
    EmbedQueryStart,
    ExprColonNoSpace,
    LParNoSpace,
]));
/// After a list value.
pub(crate) const VF_LIST: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    CmprOther,
    Comma,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    SingleQuotedString,
    TripleQuotedString,
    TrySet,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN2Fini,
    EmbedQueryStart,
]));
/// After an embedded query value.
pub(crate) const VF_EMBED: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    Colon,
    Comma,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    EqSpace,
    ExprDivide,
    ExprModulo,
    ExprPow,
    ExprTimes,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SingleQuotedString,
    TripleQuotedString,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN1JoinFini,
    EdgeN2Fini,
    EmbedQueryStart,
    ExprColonNoSpace,
]));
/// After a subquery value.
pub(crate) const VF_SUBQ: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    CmdOpt,
    CmdrTokn,
    Comma,
    Dot,
    DoubleQuotedString,
    Elif,
    EqNoSpace,
    Or,
    RBrace,
    RPar,
    RSqb,
    SingleQuotedString,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN2Fini,
    Else,
]));
/// After a tag name segment.
pub(crate) const VF_TAG: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    CmprOther,
    Comma,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    SingleQuotedString,
    TripleQuotedString,
    TrySet,
    VBar,
    ColonNoSpace,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN1JoinFini,
    EdgeN2Fini,
    EmbedQueryStart,
]));
/// After the `#` of a tag name.
pub(crate) const TAG_START: TermSet = TermSet::of(&[Dollar, TagSegNoVar]);
/// After the `#` of a tag lift.
pub(crate) const TAG_LIFT_START: TermSet = TermSet::of(&[Dollar, TagSegNoVar, Hash]);
/// After the colon of a tag prop.
pub(crate) const TAGPROP_NAME: TermSet = TermSet::of(&[BaseProp, Dollar]);
/// Only a variable name.
pub(crate) const VARTOKN_ONLY: TermSet = TermSet::of(&[VarTokn]);
/// Only `$`.
pub(crate) const DOLLAR_ONLY: TermSet = TermSet::of(&[Dollar]);
/// Only `{`.
pub(crate) const LBRACE_ONLY: TermSet = TermSet::of(&[LBrace]);
/// Only `(`.
pub(crate) const LPAR_ONLY: TermSet = TermSet::of(&[LPar]);
/// Only `)`.
pub(crate) const RPAR_ONLY: TermSet = TermSet::of(&[RPar]);
/// Only `:`.
pub(crate) const COLON_ONLY: TermSet = TermSet::of(&[Colon]);
/// Only `*`.
pub(crate) const STAR_ONLY: TermSet = TermSet::of(&[ExprTimes]);
/// Only `in`.
pub(crate) const IN_ONLY: TermSet = TermSet::of(&[In]);
/// Only a named comparison (`range=`).
pub(crate) const BYNAME_ONLY: TermSet = TermSet::of(&[ByName]);
/// After the `#` of a tag glob.
pub(crate) const WILDTAG_ONLY: TermSet = TermSet::of(&[WildTagSegNoVar]);
/// After a segment of a tag glob.
pub(crate) const AFTER_WILDTAG: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    Cmpr,
    CmprOther,
    Dot,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    Or,
    RBrace,
    RPar,
    SetTagOper,
    TrySet,
    VBar,
    ColonNoSpace,
]));
/// After a dot in a tag glob.
pub(crate) const WILDTAG_AFTER_DOT: TermSet = TermSet::of(&[Dollar, WildTagSegNoVar]);
/// Where a filter condition starts.
pub(crate) const COND_START: TermSet = TermSet::of(&[
    Dollar,
    Dot,
    LBrace,
    LPar,
    Props,
    RelName,
    UnivName,
    WildProps,
    ColonDollar,
    MatchHash,
    MatchHashWild,
    Not,
]);
/// After a relative prop in a condition.
pub(crate) const RELPROP_IN_COND: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    Cmpr,
    CmprOther,
    Dot,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    ModSet,
    ModSetMulti,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    TryModSet,
    TryModSetMulti,
    TrySet,
    VBar,
    ArrayCondStart,
]));
/// After a universal prop in a condition.
pub(crate) const UNIVPROP_IN_COND: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    CmprOther,
    Comma,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    ModSet,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    SingleQuotedString,
    TripleQuotedString,
    TryModSet,
    TrySet,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN1JoinFini,
    EdgeN2Fini,
    EmbedQueryStart,
]));
/// After a prop name in a condition.
pub(crate) const PROPS_IN_COND: TermSet = OPER_START.or(TermSet::of(&[
    End, And, Cmpr, CmprOther, EqNoSpace, EqSpace, ExprTimes, Or, RBrace, RPar, SetTagOper, TrySet,
    VBar,
]));
/// After a wildcard prop name in a condition.
pub(crate) const WILDPROPS_IN_COND: TermSet =
    OPER_START.or(TermSet::of(&[End, And, Or, RBrace, RPar, VBar]));
/// After a subquery condition.
pub(crate) const AFTER_COND_SUBQUERY: TermSet = OPER_START.or(TermSet::of(&[
    End, And, Cmpr, CmprOther, EqNoSpace, EqSpace, ExprTimes, Or, RBrace, RPar, SetTagOper, TrySet,
    VBar,
]));
/// After a parenthesized condition.
pub(crate) const AFTER_COND_PAREN: TermSet = OPER_START.or(TermSet::of(&[End, RBrace, VBar]));
/// After `*[`.
pub(crate) const ARRAY_CMPR: TermSet = TermSet::of(&[
    ByName, Cmpr, CmprOther, EqNoSpace, EqSpace, SetTagOper, TrySet,
]);
/// After an array comparison.
pub(crate) const AFTER_ARRAY_CMP: TermSet = OPER_START.or(TermSet::of(&[End, RBrace, RPar, VBar]));
/// After the prop name of a lift.
pub(crate) const AFTER_PROPS_LIFT: TermSet = OPER_START.or(TermSet::of(&[
    End,
    Cmpr,
    CmprOther,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    RBrace,
    RPar,
    SetTagOper,
    TrySet,
    VBar,
    ArrayCondStart,
]));
/// After a wildcard prop name of a lift.
pub(crate) const AFTER_WILDPROPS_LIFT: TermSet =
    OPER_START.or(TermSet::of(&[End, RBrace, RPar, VBar]));
/// After a prop name with embedded props.
pub(crate) const AFTER_EMBEDPROPS: TermSet = TermSet::of(&[
    Cmpr,
    CmprOther,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    SetTagOper,
    TrySet,
    ArrayCondStart,
]);
/// After `reverse(`.
pub(crate) const REVERSE_LIFT: TermSet = TermSet::of(&[
    EmbedProps, Props, UnivName, WildProps, Deref, Hash, HashSpace,
]);
/// After `-(` (condition or edge walk).
pub(crate) const MINUS_PAREN: TermSet = TermSet::of(&[
    Backquote,
    Dollar,
    Dot,
    LBrace,
    LPar,
    NonQuoteWord,
    Props,
    RelName,
    TripleQuotedString,
    UnivName,
    VarTokn,
    WildProps,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
    MatchHash,
    MatchHashWild,
    Not,
]);
/// After `-((`.
pub(crate) const MINUS_PAREN_PAREN: TermSet = TermSet::of(&[
    Backquote,
    Comma,
    Dollar,
    Dot,
    LBrace,
    LPar,
    NonQuoteWord,
    Props,
    RelName,
    RPar,
    TripleQuotedString,
    UnivName,
    VarTokn,
    WildProps,
    ColonDollar,
    Hash,
    HashSpace,
    MatchHash,
    MatchHashWild,
    Not,
]);
/// After a prop name in `-(`.
pub(crate) const PROPS_IN_MINUS_PAREN: TermSet = TermSet::of(&[
    And,
    Cmpr,
    CmprOther,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    Or,
    RPar,
    SetTagOper,
    TrySet,
    EdgeN1Fini,
    EdgeN1JoinFini,
]);
/// After a relative prop in `-(`.
pub(crate) const RELPROP_IN_MINUS_PAREN: TermSet = TermSet::of(&[
    And,
    Cmpr,
    CmprOther,
    Comma,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    Or,
    RPar,
    SetTagOper,
    TrySet,
    ArrayCondStart,
    EdgeN1Fini,
    EdgeN1JoinFini,
]);
/// After a universal prop in `-(`.
pub(crate) const UNIVPROP_IN_MINUS_PAREN: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    CmprOther,
    Comma,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    ModSet,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    SingleQuotedString,
    TripleQuotedString,
    TryModSet,
    TrySet,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN1JoinFini,
    EdgeN2Fini,
    EmbedQueryStart,
]));
/// After a subquery in `-(`.
pub(crate) const AFTER_MINUS_PAREN_SUBQUERY: TermSet = TermSet::of(&[
    And,
    Cmpr,
    CmprOther,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    Or,
    RPar,
    SetTagOper,
    TrySet,
    EdgeN1Fini,
    EdgeN1JoinFini,
]);
/// After a walk verb.
pub(crate) const WALK_VERB_END: TermSet = TermSet::of(&[EdgeN1Fini, EdgeN1JoinFini]);
/// After an item of a walk verb list.
pub(crate) const WALKLIST_AFTER_ITEM: TermSet = TermSet::of(&[Comma, RPar]);
/// After a comma of a walk verb list.
pub(crate) const WALKLIST_AFTER_COMMA: TermSet = TermSet::of(&[
    Backquote,
    Dollar,
    Dot,
    NonQuoteWord,
    Props,
    RelName,
    RPar,
    TripleQuotedString,
    UnivName,
    VarTokn,
    ColonDollar,
    Hash,
    HashSpace,
]);
/// Where the destination of an edge walk starts.
pub(crate) const WALK_DEST: TermSet = TermSet::of(&[Dollar, LPar, Props, Wildcard, WildProps]);
/// After the destination of an edge walk.
pub(crate) const AFTER_WALK_DEST: TermSet = OPER_START.or(TermSet::of(&[
    End, Cmpr, CmprOther, EqNoSpace, EqSpace, ExprTimes, RBrace, SetTagOper, TrySet, VBar,
]));
/// After `->`.
pub(crate) const RIGHT_PIVOT_TARGET: TermSet = TermSet::of(&[
    AllTags,
    Dollar,
    ExprTimes,
    LBrace,
    LPar,
    Props,
    UnivName,
    WildProps,
    MatchHash,
    MatchHashWild,
]);
/// After `-+>`.
pub(crate) const RIGHT_JOIN_TARGET: TermSet = TermSet::of(&[
    AllTags,
    Dollar,
    ExprTimes,
    LPar,
    Props,
    UnivName,
    WildProps,
    MatchHash,
    MatchHashWild,
]);
/// After `<-` and `<+-`.
pub(crate) const LEFT_PIVOT_TARGET: TermSet = TermSet::of(&[ExprTimes, Props, UnivName]);
/// After a relative prop starting an operator.
pub(crate) const RELPROP_AT_OPER: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    Cmpr,
    CmprOther,
    Dot,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    ModSet,
    ModSetMulti,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    TryModSet,
    TryModSetMulti,
    TrySet,
    VBar,
    ArrayCondStart,
]));
/// After `:prop ->`.
pub(crate) const PROP_PIVOT_TARGET: TermSet =
    TermSet::of(&[Dollar, ExprTimes, LPar, Props, UnivName]);
/// After a variable name starting an operator.
pub(crate) const VAR_AT_OPER: TermSet =
    OPER_START.or(TermSet::of(&[End, Dot, Equal, RBrace, VBar, LParNoSpace]));
/// After a dereferenced name in an operator.
pub(crate) const VAR_DEREF_AT_OPER: TermSet = OPER_START.or(TermSet::of(&[
    End,
    Dot,
    EqNoSpace,
    EqSpace,
    RBrace,
    VBar,
    LParNoSpace,
]));
/// After the dot of a dereference.
pub(crate) const DEREF_KEY: TermSet = TermSet::of(&[Backquote, Dollar, LPar, VarTokn]);
/// After `$` in a value.
pub(crate) const DOLLAR_NEXT: TermSet = TermSet::of(&[LPar, VarTokn]);
/// After the parenthesis of a variable list.
pub(crate) const VARLIST_START: TermSet = TermSet::of(&[Comma, Dollar, RPar]);
/// After a name in a variable list.
pub(crate) const VARLIST_AFTER_NAME: TermSet = TermSet::of(&[Comma, RPar]);
/// After a comma in a variable list.
pub(crate) const VARLIST_AFTER_COMMA: TermSet = TermSet::of(&[Dollar, RPar]);
/// After a variable list.
pub(crate) const VARLIST_CLOSE: TermSet = TermSet::of(&[Equal, In, EdgeN1Fini, EdgeN1JoinFini]);
/// After `for`.
pub(crate) const FOR_VARS: TermSet = TermSet::of(&[Dollar, LPar]);
/// After a subquery or a control-flow body.
pub(crate) const AFTER_SUBQUERY: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    CmdOpt,
    CmdrTokn,
    Comma,
    Dot,
    DoubleQuotedString,
    Elif,
    EqNoSpace,
    Or,
    RBrace,
    RPar,
    RSqb,
    SingleQuotedString,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN2Fini,
    Else,
]));
/// After an init, fini or empty block, or a function.
pub(crate) const AFTER_BLOCK: TermSet = OPER_START.or(TermSet::of(&[End, RBrace, VBar]));
/// After a try or catch body.
pub(crate) const AFTER_TRY: TermSet = OPER_START.or(TermSet::of(&[End, Catch, RBrace, VBar]));
/// After break, continue and stop.
pub(crate) const AFTER_CONTROL: TermSet = OPER_START.or(TermSet::of(&[End, RBrace, VBar]));
/// After `return(...)`.
pub(crate) const AFTER_RETURN: TermSet = OPER_START.or(TermSet::of(&[End, RBrace, VBar]));
/// After `return(`.
pub(crate) const RETURN_VALU: TermSet = TermSet::of(&[
    Backquote,
    Dollar,
    Dot,
    DoubleQuotedString,
    LBrace,
    LPar,
    NonQuoteWord,
    RelName,
    RPar,
    SingleQuotedString,
    TripleQuotedString,
    UnivName,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After `yield`.
pub(crate) const YIELD_NEXT: TermSet = TermSet::of(&[
    Backquote,
    Dollar,
    Dot,
    DoubleQuotedString,
    LBrace,
    LPar,
    RelName,
    SingleQuotedString,
    TripleQuotedString,
    UnivName,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// Where a switch case starts.
pub(crate) const SWITCH_CASE: TermSet = TermSet::of(&[
    CaseBare,
    DefaultCase,
    DoubleQuotedString,
    LPar,
    RBrace,
    SingleQuotedString,
]);
/// In a multi-value switch case.
pub(crate) const SWITCH_MULTI: TermSet =
    TermSet::of(&[DoubleQuotedString, MCaseBare, SingleQuotedString]);
/// Only `,` or `)`.
pub(crate) const COMMA_RPAR: TermSet = TermSet::of(&[Comma, RPar]);
/// After the parenthesis of a parameter list.
pub(crate) const FUNC_PARAMS_START: TermSet = TermSet::of(&[RPar, VarTokn]);
/// After a parameter name.
pub(crate) const FUNC_PARAM_AFTER_NAME: TermSet = TermSet::of(&[Comma, EqNoSpace, RPar]);
/// After the parenthesis of a call.
pub(crate) const CALL_ARGS_START: TermSet = TermSet::of(&[
    Backquote,
    Comma,
    Dollar,
    Dot,
    DoubleQuotedString,
    LBrace,
    LPar,
    NonQuoteWord,
    RelName,
    RPar,
    SingleQuotedString,
    TripleQuotedString,
    UnivName,
    VarTokn,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After a comma in a call.
pub(crate) const CALL_ARGS_AFTER_COMMA: TermSet = TermSet::of(&[
    Backquote,
    Dollar,
    Dot,
    DoubleQuotedString,
    LBrace,
    LPar,
    NonQuoteWord,
    RelName,
    RPar,
    SingleQuotedString,
    TripleQuotedString,
    UnivName,
    VarTokn,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After a word (maybe a keyword name) in a call.
pub(crate) const CALL_AFTER_WORD: TermSet = TermSet::of(&[Comma, EqNoSpace, EqSpace, RPar]);
/// Where an expression starts.
pub(crate) const EXPR_START: TermSet = TermSet::of(&[
    Backquote,
    Bool,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprNeg,
    ExprRelName,
    ExprUnivName,
    HexNumber,
    LBrace,
    LPar,
    LSqb,
    NotOp,
    Null,
    Number,
    OctNumber,
    SingleQuotedString,
    TripleQuotedString,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After a binary operator.
pub(crate) const EXPR_OPERAND: TermSet = TermSet::of(&[
    Backquote,
    Bool,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprNeg,
    ExprRelName,
    ExprUnivName,
    HexNumber,
    LBrace,
    LPar,
    LSqb,
    Null,
    Number,
    OctNumber,
    SingleQuotedString,
    TripleQuotedString,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After `**`.
pub(crate) const EXPR_POW_OPERAND: TermSet = TermSet::of(&[
    Backquote,
    Bool,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprRelName,
    ExprUnivName,
    HexNumber,
    LBrace,
    LPar,
    LSqb,
    Null,
    Number,
    OctNumber,
    SingleQuotedString,
    TripleQuotedString,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After a literal in an expression.
pub(crate) const E_AFTER_ATOM: TermSet = TermSet::of(&[
    And,
    Cmpr,
    Colon,
    Comma,
    EqNoSpace,
    EqSpace,
    ExprDivide,
    ExprMinus,
    ExprModulo,
    ExprPlus,
    ExprPow,
    ExprTimes,
    Or,
    RBrace,
    RPar,
    RSqb,
    ExprColonNoSpace,
]);
/// After a variable in an expression.
pub(crate) const E_AFTER_VAR: TermSet = TermSet::of(&[
    And,
    Cmpr,
    Colon,
    Comma,
    Dot,
    EqNoSpace,
    EqSpace,
    ExprDivide,
    ExprMinus,
    ExprModulo,
    ExprPlus,
    ExprPow,
    ExprTimes,
    Or,
    RBrace,
    RPar,
    RSqb,
    ExprColonNoSpace,
    LParNoSpace,
]);
/// After a universal prop in an expression.
pub(crate) const E_AFTER_UNIV: TermSet = TermSet::of(&[
    And,
    Cmpr,
    Colon,
    Comma,
    EqNoSpace,
    EqSpace,
    ExprDivide,
    ExprMinus,
    ExprModulo,
    ExprPlus,
    ExprPow,
    ExprTimes,
    Or,
    RBrace,
    RPar,
    RSqb,
    ExprColonNoSpace,
]);
/// After a tag segment in an expression.
pub(crate) const E_AFTER_TAGSEG: TermSet = TermSet::of(&[
    And,
    Cmpr,
    Colon,
    Comma,
    Dot,
    EqNoSpace,
    EqSpace,
    ExprDivide,
    ExprMinus,
    ExprModulo,
    ExprPlus,
    ExprPow,
    ExprTimes,
    Or,
    RBrace,
    RPar,
    RSqb,
    ExprColonNoSpace,
]);
/// After `#` in an expression.
pub(crate) const EXPR_TAG_START: TermSet = TermSet::of(&[Dollar, ExprTagSegNoVar]);
/// After a dot of a tag in an expression.
pub(crate) const EXPR_TAG_AFTER_DOT: TermSet = TermSet::of(&[Dollar, ExprTagSegNoVar]);
/// Only an expression variable name.
pub(crate) const EXPRVARTOKN_ONLY: TermSet = TermSet::of(&[ExprVarTokn]);
/// After `$` in an expression.
pub(crate) const DOLLAR_NEXT_EXPR: TermSet = TermSet::of(&[ExprVarTokn, LPar]);
/// After the dot of a dereference of a parenthesized expression.
pub(crate) const INNER_DEREF_KEY: TermSet = TermSet::of(&[Backquote, Dollar, ExprVarTokn, LPar]);
/// After `[` or a comma in an expression list.
pub(crate) const JSON_LIST_START: TermSet = TermSet::of(&[
    Backquote,
    Bool,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprRelName,
    ExprUnivName,
    HexNumber,
    LBrace,
    LPar,
    LSqb,
    Null,
    Number,
    OctNumber,
    RSqb,
    SingleQuotedString,
    TripleQuotedString,
    VarTokn,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After a word in an expression list.
pub(crate) const JSON_LIST_AFTER_WORD: TermSet = TermSet::of(&[Comma, RSqb]);
/// After `{` or a comma in an expression dict.
pub(crate) const JSON_DICT_START: TermSet = TermSet::of(&[
    Backquote,
    Bool,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprRelName,
    ExprUnivName,
    HexNumber,
    LBrace,
    LPar,
    LSqb,
    Null,
    Number,
    OctNumber,
    RBrace,
    SingleQuotedString,
    TripleQuotedString,
    VarTokn,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After a word key in an expression dict.
pub(crate) const JSON_DICT_AFTER_KEY: TermSet = TermSet::of(&[Colon, ExprColonNoSpace]);
/// After the colon of an expression dict.
pub(crate) const JSON_DICT_VALUE: TermSet = TermSet::of(&[
    Backquote,
    Bool,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprRelName,
    ExprUnivName,
    HexNumber,
    LBrace,
    LPar,
    LSqb,
    Null,
    Number,
    OctNumber,
    SingleQuotedString,
    TripleQuotedString,
    VarTokn,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After a word value in an expression dict.
pub(crate) const JSON_DICT_AFTER_VALUE: TermSet = TermSet::of(&[Comma, RBrace]);
/// Inside a format string.
pub(crate) const FMT_BODY: TermSet = TermSet::of(&[Backquote, FormatText, LBrace]);
/// After the parenthesis of a list or expression.
pub(crate) const PAREN_FIRST: TermSet = TermSet::of(&[
    Backquote,
    Bool,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprNeg,
    ExprRelName,
    ExprUnivName,
    HexNumber,
    LBrace,
    ListTokn,
    LPar,
    LSqb,
    NotOp,
    Null,
    Number,
    OctNumber,
    RPar,
    SingleQuotedString,
    TripleQuotedString,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After `({` (dict or subquery).
pub(crate) const PAREN_BRACE: TermSet = OPER_START.or(TermSet::of(&[
    Backquote,
    Bool,
    Dot,
    DoubleQuotedString,
    ExprRelName,
    ExprUnivName,
    HexNumber,
    Null,
    Number,
    OctNumber,
    RBrace,
    SingleQuotedString,
    TripleQuotedString,
    VarTokn,
    VBar,
    EmbedQueryStart,
]));
/// After `({(`.
pub(crate) const PAREN_FIRST_OR_VARLIST: TermSet = TermSet::of(&[
    Backquote,
    Bool,
    Comma,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprNeg,
    ExprRelName,
    ExprUnivName,
    HexNumber,
    LBrace,
    LPar,
    LSqb,
    NotOp,
    Null,
    Number,
    OctNumber,
    RPar,
    SingleQuotedString,
    TripleQuotedString,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After `({[`.
pub(crate) const LSQB_MERGED: TermSet = TermSet::of(&[
    Backquote,
    Bool,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprMinus,
    ExprPlus,
    ExprRelName,
    ExprUnivName,
    HexNumber,
    LBrace,
    LPar,
    LSqb,
    Null,
    Number,
    OctNumber,
    Props,
    RelName,
    RSqb,
    SingleQuotedString,
    TripleQuotedString,
    UnivName,
    VarTokn,
    ColonDollar,
    Deref,
    EdgeAddN1Init,
    EdgeN1Init,
    EdgeN2Init,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After the parenthesis of a list.
pub(crate) const LIST_START: TermSet = TermSet::of(&[
    Backquote,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprRelName,
    ExprUnivName,
    LBrace,
    ListTokn,
    LPar,
    RPar,
    SingleQuotedString,
    TripleQuotedString,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After a comma in a list.
pub(crate) const LIST_AFTER_COMMA: TermSet = TermSet::of(&[
    Backquote,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprRelName,
    ExprUnivName,
    LBrace,
    ListTokn,
    LPar,
    RPar,
    SingleQuotedString,
    TripleQuotedString,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
]);
/// After a command name.
pub(crate) const CMD_AFTER_NAME: TermSet = OPER_START.or(TermSet::of(&[
    End,
    Backquote,
    CmdOpt,
    Cmpr,
    Dot,
    DoubleQuotedString,
    NonQuoteWord,
    RBrace,
    SingleQuotedString,
    TripleQuotedString,
    VBar,
    EmbedQueryStart,
]));
/// After a command option.
pub(crate) const CMD_AFTER_OPT: TermSet = OPER_START.or(TermSet::of(&[
    End,
    Backquote,
    CmdOpt,
    Cmpr,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    NonQuoteWord,
    RBrace,
    SingleQuotedString,
    TripleQuotedString,
    VBar,
    EmbedQueryStart,
]));
/// After `--opt=`.
pub(crate) const CMD_OPT_VALUE: TermSet = TermSet::of(&[
    Backquote,
    CmdName,
    Cmpr,
    Dollar,
    Dot,
    DoubleQuotedString,
    ExprMinus,
    ExprPlus,
    LBrace,
    LPar,
    LSqb,
    NonQuoteWord,
    Props,
    RelName,
    SingleQuotedString,
    TripleQuotedString,
    UnivName,
    ColonDollar,
    EmbedQueryStart,
    Hash,
    HashSpace,
    RightPivot,
]);
/// After an unquoted command argument.
pub(crate) const CMD_AFTER_WORD: TermSet = OPER_START.or(TermSet::of(&[
    End,
    Backquote,
    CmdOpt,
    Cmpr,
    CommaNoSpace,
    CommaSpace,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    NonQuoteWord,
    RBrace,
    RSqbNoSpace,
    SingleQuotedString,
    TripleQuotedString,
    VBar,
    EmbedQueryStart,
]));
/// After a name-like command argument.
pub(crate) const CMD_AFTER_NAMEISH: TermSet = OPER_START.or(TermSet::of(&[
    End,
    Backquote,
    CmdOpt,
    Cmpr,
    CommaNoSpace,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    NonQuoteWord,
    RBrace,
    RSqbNoSpace,
    SingleQuotedString,
    TripleQuotedString,
    VBar,
    EmbedQueryStart,
]));
/// After punctuation in a command argument.
pub(crate) const CMD_AFTER_PUNCT: TermSet = OPER_START.or(TermSet::of(&[
    End,
    Backquote,
    CmdOpt,
    Cmpr,
    CommaNoSpace,
    CommaSpace,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    NonQuoteWord,
    RBrace,
    RSqbNoSpace,
    SingleQuotedString,
    TripleQuotedString,
    VBar,
    EmbedQueryStart,
]));
/// After `,`, `=` or `]` inside a command argument.
pub(crate) const CMD_AFTER_GLUE: TermSet = TermSet::of(&[
    CmdName,
    Cmpr,
    Dot,
    ExprMinus,
    ExprPlus,
    LSqb,
    NonQuoteWord,
    Props,
    RightPivot,
]);
/// After a dot starting a command argument.
pub(crate) const CMD_AFTER_DOT: TermSet = OPER_START.or(TermSet::of(&[
    End,
    Backquote,
    CmdOpt,
    Cmpr,
    CommaNoSpace,
    CommaSpace,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    NonQuoteWord,
    RBrace,
    RSqbNoSpace,
    SingleQuotedString,
    TripleQuotedString,
    VBar,
    EmbedQueryStart,
]));
/// After a subquery command argument.
pub(crate) const CMD_AFTER_ARGV_QUERY: TermSet = OPER_START.or(TermSet::of(&[
    End,
    Backquote,
    CmdOpt,
    Cmpr,
    Dot,
    DoubleQuotedString,
    NonQuoteWord,
    RBrace,
    SingleQuotedString,
    TripleQuotedString,
    VBar,
    EmbedQueryStart,
]));
/// In the indicator list of lookup mode.
pub(crate) const LOOK_START: TermSet =
    TermSet::of(&[End, DoubleQuotedString, SingleQuotedString, VBar, WhiteTokn]);
/// After a parenthesized condition inside a condition.
pub(crate) const COND_INNER_PAREN_CLOSE: TermSet =
    OPER_START.or(TermSet::of(&[End, And, Or, RBrace, RPar, VBar]));
/// After a call in the variable of a conditional prop set.
pub(crate) const COND_VAR_CALL_CLOSE: TermSet = TermSet::of(&[Dot, Equal, TrySet, LParNoSpace]);
/// After a prop name in `-((`.
pub(crate) const PROPS_IN_MINUS_PAREN_PAREN: TermSet = TermSet::of(&[
    And, Cmpr, CmprOther, Comma, EqNoSpace, EqSpace, ExprTimes, Or, RPar, SetTagOper, TrySet,
]);
/// After a relative prop in `-((`.
pub(crate) const RELPROP_IN_MINUS_PAREN_PAREN: TermSet = TermSet::of(&[
    And,
    Cmpr,
    CmprOther,
    Comma,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    Or,
    RPar,
    SetTagOper,
    TrySet,
    ArrayCondStart,
    EdgeN1Fini,
    EdgeN1JoinFini,
]);
/// After a universal prop in `-((`.
pub(crate) const UNIVPROP_IN_MINUS_PAREN_PAREN: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    CmprOther,
    Comma,
    Dot,
    DoubleQuotedString,
    EqNoSpace,
    EqSpace,
    ExprTimes,
    ModSet,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SetTagOper,
    SingleQuotedString,
    TripleQuotedString,
    TryModSet,
    TrySet,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN1JoinFini,
    EdgeN2Fini,
    EmbedQueryStart,
]));
/// After the prop name of a tag prop condition.
pub(crate) const TAGPROP_IN_COND: TermSet = OPER_START.or(TermSet::of(&[
    End, And, Cmpr, CmprOther, EqNoSpace, EqSpace, ExprTimes, Or, RBrace, RPar, SetTagOper, TrySet,
    VBar,
]));
/// After the prop name of a `form#tag:prop` lift.
pub(crate) const FORMTAGPROP_IN_LIFT: TermSet = OPER_START.or(TermSet::of(&[
    End, Cmpr, CmprOther, EqNoSpace, EqSpace, ExprTimes, RBrace, RPar, SetTagOper, TrySet, VBar,
]));
/// In a cmdr argument list.
pub(crate) const CMDR_NEXT: TermSet = TermSet::of(&[
    End,
    CmdOpt,
    CmdrTokn,
    DoubleQuotedString,
    EqNoSpace,
    LBrace,
    SingleQuotedString,
]);
/// At the start of a cmdr argument list.
pub(crate) const CMDR_START: TermSet = TermSet::of(&[
    CmdOpt,
    CmdrTokn,
    DoubleQuotedString,
    LBrace,
    SingleQuotedString,
]);
/// After a variable name in `-((`.
pub(crate) const VAR_IN_MINUS_PAREN_PAREN: TermSet =
    TermSet::of(&[And, Comma, Dot, Or, RPar, LParNoSpace]);
/// After a dereferenced name following `$( ... )` or `( ... )` in a value.
pub(crate) const DEREF_NAME_AFTER_EXPR: TermSet = OPER_START.or(TermSet::of(&[
    End,
    And,
    As,
    Backquote,
    CmdOpt,
    Cmpr,
    Comma,
    Dot,
    DoubleQuotedString,
    NonQuoteWord,
    Or,
    RBrace,
    RPar,
    RSqb,
    SingleQuotedString,
    TripleQuotedString,
    VBar,
    EdgeAddN2Fini,
    EdgeN1Fini,
    EdgeN2Fini,
    EmbedQueryStart,
    LParNoSpace,
]));
/// After a quoted string first in parentheses (list or expression).
pub(crate) const PAREN_STR_AFTER: TermSet = TermSet::of(&[
    And, Cmpr, Comma, EqNoSpace, EqSpace, ExprDivide, ExprMinus, ExprModulo, ExprPlus, ExprPow,
    ExprTimes, Or, RPar,
]);
