//! The typed Storm syntax tree.
//!
//! Every node carries a [`Span`]: the byte range of the query text it was parsed from (from the
//! start of its first token to the end of its last one). The tree keeps the distinctions the
//! runtime needs (an unquoted `5` is the string `"5"`, `(5)` is the integer 5) and nothing more.

/// A byte range of the query text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset just past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both spans.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The text of the span within `text`.
    pub fn text(self, text: &str) -> &str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

/// A parsed Storm query: a pipeline of operators.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// The operators, in order.
    pub opers: Vec<Oper>,
    /// From the first to the last token of the query (empty at the query's position when the
    /// query has no tokens).
    pub span: Span,
}

/// One operator of a query pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Oper {
    /// What the operator does.
    pub kind: OperKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of pipeline operators.
#[derive(Clone, Debug, PartialEq)]
pub enum OperKind {
    /// A lift (`inet:fqdn=vertex.link`, `#foo`, ...).
    Lift(Lift),
    /// A filter: `+cond` keeps matching nodes, `-cond` drops them.
    Filter {
        /// `true` for `+`, `false` for `-`.
        must: bool,
        /// The condition.
        cond: Cond,
    },
    /// A pivot or join (`->`, `<-`, `-+>`, `<+-`, `-->`, ...).
    Pivot(Pivot),
    /// A light-edge walk: `-(verb)> dest` or `<(verb)- dest` (and their `+` join forms).
    EdgeWalk(EdgeWalk),
    /// One edit operation from an edit block `[ ... ]`.
    Edit(Edit),
    /// A command invocation: `| name args`.
    Cmd(CmdCall),
    /// `$name = value`.
    SetVar {
        /// The variable name.
        name: String,
        /// The value.
        value: Value,
    },
    /// `$base.key = value`.
    SetItem {
        /// The value being modified.
        target: Value,
        /// The item key: a constant string, a variable, a format string or an expression.
        key: Value,
        /// The new value.
        value: Value,
    },
    /// `($a, $b) = value`.
    SetVarList {
        /// The variable names.
        names: Vec<String>,
        /// The value to unpack.
        value: Value,
    },
    /// A value evaluated for its side effects (`$lib.print(hi)`).
    VarEval(Value),
    /// A subquery `{ ... }` run per node (its nodes are yielded when `yields` is set).
    SubQuery(SubQuery),
    /// `yield $value`: yield the nodes a value produces.
    YieldValue(Value),
    /// `for $x in value { ... }`.
    For {
        /// The loop variable(s).
        vars: ForVars,
        /// The iterated value.
        iter: Value,
        /// The loop body.
        body: SubQuery,
    },
    /// `while cond { ... }`.
    While {
        /// The loop condition.
        cond: Value,
        /// The loop body.
        body: SubQuery,
    },
    /// `if cond { } elif cond { } else { }`.
    If {
        /// The `if` and `elif` clauses, in order.
        clauses: Vec<IfClause>,
        /// The `else` body.
        otherwise: Option<SubQuery>,
    },
    /// `switch $value { case: { } ... }`.
    Switch {
        /// The value switched on.
        value: Value,
        /// The cases, in order.
        cases: Vec<SwitchCase>,
    },
    /// `try { } catch Name as e { }`.
    Try {
        /// The protected body.
        body: Query,
        /// The catch blocks, in order.
        catches: Vec<Catch>,
    },
    /// `break`.
    Break,
    /// `continue`.
    Continue,
    /// `stop`.
    Stop,
    /// `return(value)`.
    Return(Option<Value>),
    /// `emit value`.
    Emit(Value),
    /// `function name(args) { body }`.
    Function(Function),
    /// `init { ... }`.
    Init(Query),
    /// `fini { ... }`.
    Fini(Query),
    /// `empty { ... }`.
    Empty(Query),
}

/// A subquery in braces.
#[derive(Clone, Debug, PartialEq)]
pub struct SubQuery {
    /// The inner query.
    pub query: Query,
    /// Whether the subquery yields its nodes (`yield { ... }`).
    pub yields: bool,
    /// From the opening to the closing brace.
    pub span: Span,
}

/// The variables of a `for` loop.
#[derive(Clone, Debug, PartialEq)]
pub enum ForVars {
    /// `for $x in ...`
    One(String),
    /// `for ($a, $b) in ...`
    Many(Vec<String>),
}

/// One `if` or `elif` clause.
#[derive(Clone, Debug, PartialEq)]
pub struct IfClause {
    /// The condition.
    pub cond: Value,
    /// The body.
    pub body: SubQuery,
    /// Where the clause was written.
    pub span: Span,
}

/// One case of a `switch`.
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchCase {
    /// The values matched by the case (empty for the default case `*`).
    pub values: Vec<String>,
    /// Whether this is the default case.
    pub default: bool,
    /// The body.
    pub body: SubQuery,
    /// Where the case was written.
    pub span: Span,
}

/// A `catch` block.
#[derive(Clone, Debug, PartialEq)]
pub struct Catch {
    /// The error name(s) caught: a string, a list of strings or `*`.
    pub errors: Value,
    /// The variable holding the error.
    pub var: String,
    /// The handler.
    pub body: Query,
    /// Where the block was written.
    pub span: Span,
}

/// A function definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// The function name.
    pub name: String,
    /// The parameters, positional first.
    pub params: Vec<Param>,
    /// The function body.
    pub body: Query,
    /// Where the parameter list was written.
    pub params_span: Span,
}

/// A function parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// The parameter name.
    pub name: String,
    /// The default value of a keyword parameter.
    pub default: Option<Value>,
    /// Where the parameter was written.
    pub span: Span,
}

/// A command invocation.
#[derive(Clone, Debug, PartialEq)]
pub struct CmdCall {
    /// The command name.
    pub name: String,
    /// The arguments, in order (`--opt=valu` gives two arguments).
    pub args: Vec<Value>,
    /// Where the command name was written.
    pub name_span: Span,
}

/// A lift.
#[derive(Clone, Debug, PartialEq)]
pub struct Lift {
    /// What is lifted.
    pub kind: LiftKind,
    /// `reverse(...)`: lift in reverse index order.
    pub reverse: bool,
}

/// A comparison in a lift or filter: operator and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The comparison operator (`=`, `~=`, `range=`, `@=`, ...).
    pub cmpr: Cmpr,
    /// The value compared with.
    pub value: Value,
}

/// A comparison operator.
#[derive(Clone, Debug, PartialEq)]
pub struct Cmpr {
    /// The operator text (`*range=` is `range=`).
    pub text: String,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of lifts.
#[derive(Clone, Debug, PartialEq)]
pub enum LiftKind {
    /// `inet:fqdn`, `.created`, `inet:*`, `*$form`: every node with the form or prop.
    Prop {
        /// The form or prop.
        prop: PropRef,
    },
    /// `inet:fqdn=x`, `inet:ipv4:asn>10`: by comparison.
    PropBy {
        /// The form or prop.
        prop: PropRef,
        /// The comparison.
        cmp: Comparison,
    },
    /// `prop*[=x]`: any array element matches.
    Array {
        /// The array prop.
        prop: PropRef,
        /// The comparison.
        cmp: Comparison,
    },
    /// `inet:fqdn#tag`, optionally with an interval comparison.
    FormTag {
        /// The form.
        form: PropRef,
        /// The tag.
        tag: TagName,
        /// The tag comparison.
        cmp: Option<Comparison>,
    },
    /// `#tag`, optionally with an interval comparison.
    Tag {
        /// The tag.
        tag: TagName,
        /// The tag comparison.
        cmp: Option<Comparison>,
    },
    /// `##tag`: nodes carrying tags that are themselves tagged.
    TagTag {
        /// The tag of the tags.
        tag: TagName,
        /// The comparison.
        cmp: Option<Comparison>,
    },
    /// `#tag:prop`, optionally compared.
    TagProp {
        /// The tag.
        tag: TagName,
        /// The tag prop.
        prop: NamePart,
        /// The comparison.
        cmp: Option<Comparison>,
    },
    /// `form#tag:prop`, optionally compared.
    FormTagProp {
        /// The form.
        form: PropRef,
        /// The tag.
        tag: TagName,
        /// The tag prop.
        prop: NamePart,
        /// The comparison.
        cmp: Option<Comparison>,
    },
}

/// A form or prop name as written in a lift or edit: a literal name or a dereferenced variable.
#[derive(Clone, Debug, PartialEq)]
pub enum PropRef {
    /// A literal name (`inet:fqdn`, `.seen`, `inet:*`).
    Name(String, Span),
    /// `*$var`: the name held by a value.
    Deref(Box<Value>),
}

/// A name that may come from a variable (tag prop names, tag segments).
#[derive(Clone, Debug, PartialEq)]
pub enum NamePart {
    /// A literal name.
    Name(String, Span),
    /// A value giving the name.
    Value(Box<Value>),
}

/// A relative prop (`:asn`, `:$var`).
#[derive(Clone, Debug, PartialEq)]
pub struct RelProp {
    /// The prop name (without the leading colon) or the value giving it.
    pub name: NamePart,
    /// Where it was written.
    pub span: Span,
}

/// A universal prop (`.seen`, `.$var`).
#[derive(Clone, Debug, PartialEq)]
pub struct UnivProp {
    /// The prop name (with its leading dot) or the value giving it (without the dot).
    pub name: NamePart,
    /// Where it was written.
    pub span: Span,
}

/// A relative or universal prop reference.
#[derive(Clone, Debug, PartialEq)]
pub enum PropPath {
    /// `:prop`
    Rel(RelProp),
    /// `.prop`
    Univ(UnivProp),
}

/// A tag name (`#foo.bar`, `#$tag`, `#foo.$seg`), or a tag glob when used as a match.
#[derive(Clone, Debug, PartialEq)]
pub struct TagName {
    /// The name: segments or a value giving the whole name.
    pub kind: TagNameKind,
    /// Where it was written (including the `#`).
    pub span: Span,
}

/// The forms of tag names.
#[derive(Clone, Debug, PartialEq)]
pub enum TagNameKind {
    /// Dot-separated segments (globs may contain `*`).
    Segments(Vec<TagSegment>),
    /// `#$var`: a value holding the whole tag name.
    Value(Box<Value>),
    /// `#` alone in `-> #`: every tag.
    All,
}

/// One segment of a tag name.
#[derive(Clone, Debug, PartialEq)]
pub enum TagSegment {
    /// A literal segment.
    Text(String, Span),
    /// `$var`: a variable holding the segment.
    Var(String, Span),
}

/// A tag prop reference: tag and prop.
#[derive(Clone, Debug, PartialEq)]
pub struct TagProp {
    /// The tag.
    pub tag: TagName,
    /// The prop.
    pub prop: NamePart,
    /// Where it was written.
    pub span: Span,
}

/// A filter condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Cond {
    /// The condition.
    pub kind: CondKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of filter conditions.
#[derive(Clone, Debug, PartialEq)]
pub enum CondKind {
    /// `not cond`
    Not(Box<Cond>),
    /// `cond and cond`
    And(Box<Cond>, Box<Cond>),
    /// `cond or cond`
    Or(Box<Cond>, Box<Cond>),
    /// `:prop` or `.prop`: the node has the prop.
    HasRelProp(PropPath),
    /// `:prop=valu`, `.seen@=x`
    RelPropCmp {
        /// The prop.
        prop: PropPath,
        /// The comparison.
        cmp: Comparison,
    },
    /// `inet:fqdn`, `inet:*`, `inet:fqdn:zone`: the node is of the form / has the prop.
    HasAbsProp(String, Span),
    /// `inet:fqdn=valu`, `inet:ipv4:asn>10`
    AbsPropCmp {
        /// The full prop name.
        prop: String,
        /// Where the name was written.
        prop_span: Span,
        /// The comparison.
        cmp: Comparison,
    },
    /// `#tag` or `#tag.*` glob.
    Tag(TagName),
    /// `#tag@=time`, `#tag=(min, max)`
    TagCmp {
        /// The tag glob.
        tag: TagName,
        /// The comparison.
        cmp: Comparison,
    },
    /// `#tag:prop`: the node has the tag prop.
    HasTagProp {
        /// The tag glob.
        tag: TagName,
        /// The tag prop.
        prop: NamePart,
    },
    /// `#tag:prop>5`
    TagPropCmp {
        /// The tag glob.
        tag: TagName,
        /// The tag prop.
        prop: NamePart,
        /// The comparison.
        cmp: Comparison,
    },
    /// `{ query }` optionally compared with the count of results (`{ -> x } >= 2`).
    SubQuery {
        /// The subquery.
        query: Query,
        /// The comparison with the number of results.
        cmp: Option<Comparison>,
    },
    /// `:prop*[=valu]`: any element of the array prop matches.
    Array {
        /// The array prop.
        prop: RelProp,
        /// The comparison.
        cmp: Comparison,
    },
    /// `$var`, `$(expr)`: truthiness of a value.
    Value(Value),
}

/// A pivot.
#[derive(Clone, Debug, PartialEq)]
pub struct Pivot {
    /// The kind of pivot.
    pub kind: PivotKind,
    /// Whether the inbound node is yielded too (`-+>`, `<+-`, `--+>`, `<+--`).
    pub join: bool,
}

/// The kinds of pivots.
#[derive(Clone, Debug, PartialEq)]
pub enum PivotKind {
    /// `-> *`: to every node the node's props reference.
    Out,
    /// `-> form`, `-> form:prop`, `-> (a, b)`, `-> $var`, `-> inet:*`.
    ToForm(PivotTarget),
    /// `-> #` or `-> #glob`: to `syn:tag` nodes of the node's tags (`None` for all tags).
    ToTags(Option<TagName>),
    /// `<- *`: from nodes referencing this node.
    In,
    /// `<- form`: from nodes of the form referencing this node.
    InFrom(String, Span),
    /// `:prop -> *`
    PropOut(RelProp),
    /// `:prop -> target`
    Prop {
        /// The source prop.
        prop: RelProp,
        /// The target.
        target: PivotTarget,
    },
    /// `--> *`: walk every outgoing light edge.
    WalkAllOut,
    /// `<-- *`: walk every incoming light edge.
    WalkAllIn,
    /// `-> { query }`: run the query per node.
    Raw(Query),
}

/// Where a pivot goes.
#[derive(Clone, Debug, PartialEq)]
pub enum PivotTarget {
    /// A form or prop name (`inet:fqdn`, `.seen`, `inet:dns*`).
    Name(String, Span),
    /// A list of names (`(a, b)`) or a value giving them (`$var`).
    Value(Value),
}

/// A light-edge walk.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeWalk {
    /// `true` for incoming edges (`<(verb)-`).
    pub reverse: bool,
    /// Whether the inbound node is yielded too (`-(verb)+>`, `<+(verb)-`).
    pub join: bool,
    /// The verb(s): a string (possibly `*`), a list, a variable, ...
    pub verb: Value,
    /// The destination forms: `*`, a form, a list of forms or a value.
    pub dest: Value,
    /// An optional comparison on the destination's primary value.
    pub cmp: Option<Comparison>,
}

/// One edit operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Edit {
    /// What the edit does.
    pub kind: EditKind,
    /// Where it was written.
    pub span: Span,
}

/// Assignment operators of edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOper {
    /// `=`
    Set,
    /// `?=`: ignore normalization errors.
    TrySet,
    /// `+=`: add an array element.
    Add,
    /// `-=`: remove an array element.
    Remove,
    /// `?+=`
    TryAdd,
    /// `?-=`
    TryRemove,
    /// `++=`: add several array elements.
    AddMany,
    /// `--=`: remove several array elements.
    RemoveMany,
    /// `?++=`
    TryAddMany,
    /// `?--=`
    TryRemoveMany,
}

impl SetOper {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            SetOper::Set => "=",
            SetOper::TrySet => "?=",
            SetOper::Add => "+=",
            SetOper::Remove => "-=",
            SetOper::TryAdd => "?+=",
            SetOper::TryRemove => "?-=",
            SetOper::AddMany => "++=",
            SetOper::RemoveMany => "--=",
            SetOper::TryAddMany => "?++=",
            SetOper::TryRemoveMany => "?--=",
        }
    }
}

/// When a conditional prop set (`:prop*unset=valu`) applies.
#[derive(Clone, Debug, PartialEq)]
pub enum SetCondition {
    /// `*unset=`: only when the prop has no value.
    Unset,
    /// `*$var=`: the condition named by a value (`always`, `unset` or `never`).
    Value(Box<Value>),
}

/// The kinds of edits.
#[derive(Clone, Debug, PartialEq)]
pub enum EditKind {
    /// `form=valu`: add a node.
    NodeAdd {
        /// The form.
        form: PropRef,
        /// The operator (`=` or `?=`; others are rejected by the runtime).
        oper: SetOper,
        /// The primary value.
        value: Value,
    },
    /// `(form=valu edits...)`: add a node and edit only it.
    Parens {
        /// The node add.
        add: Box<Edit>,
        /// The edits applied to the new node.
        edits: Vec<Edit>,
    },
    /// `:prop=valu`, `.seen=valu` and the array forms `+=`, `-=`, `++=`, ...
    PropSet {
        /// The prop.
        prop: PropPath,
        /// The operator.
        oper: SetOper,
        /// The value.
        value: Value,
    },
    /// `:prop*unset=valu`, `:prop*$var?=valu`
    CondPropSet {
        /// The prop.
        prop: RelProp,
        /// The condition.
        cond: SetCondition,
        /// `?=` instead of `=`.
        try_set: bool,
        /// The value.
        value: Value,
    },
    /// `-:prop`
    PropDel(RelProp),
    /// `-.prop`
    UnivDel(UnivProp),
    /// `+#tag`, `+?#tag=valu`
    TagAdd {
        /// `+?#`: ignore normalization errors.
        try_add: bool,
        /// The tag.
        tag: TagName,
        /// The interval value and its operator.
        value: Option<(SetOper, Value)>,
    },
    /// `-#tag`
    TagDel(TagName),
    /// `+#tag:prop=valu`
    TagPropSet {
        /// The tag prop.
        prop: TagProp,
        /// The operator.
        oper: SetOper,
        /// The value.
        value: Value,
    },
    /// `-#tag:prop`
    TagPropDel(TagProp),
    /// `+(verb)> { query }` (or `<(verb)+` when `reverse`).
    EdgeAdd {
        /// `<(verb)+`: edges from the nodes of the target to the current node.
        reverse: bool,
        /// The verb.
        verb: Value,
        /// The other end: a subquery or a value (node, list of nodes, ...).
        target: Value,
    },
    /// `-(verb)> { query }` (or `<(verb)-` when `reverse`).
    EdgeDel {
        /// `<(verb)-`
        reverse: bool,
        /// The verb.
        verb: Value,
        /// The other end.
        target: Value,
    },
}

/// A value expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    /// The expression.
    pub kind: ValueKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of value expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    /// A string: quoted, unquoted word, or part of a format string.
    Str(String),
    /// An integer literal inside an expression.
    Int(i128),
    /// An integer literal too large for `i128`, as decimal digits (with a leading `-` if negative).
    BigInt(String),
    /// A decimal literal inside an expression (`5.5`), as written.
    Number(String),
    /// `true` / `false` inside an expression.
    Bool(bool),
    /// `null` inside an expression.
    Null,
    /// `(a, b)`: a list of values.
    List(Vec<Value>),
    /// `[a, b]` inside an expression.
    ExprList(Vec<Value>),
    /// `{"a": b}` inside an expression.
    ExprDict(Vec<(Value, Value)>),
    /// `$name`
    Var(String),
    /// `base.key`, `base.$var`, ``base.`fmt` ``, `base.(expr)`
    Deref {
        /// The value dereferenced.
        base: Box<Value>,
        /// The key: a string, a variable, a format string or an expression.
        key: Box<Value>,
    },
    /// `func(args, name=valu)`
    Call {
        /// The called value.
        func: Box<Value>,
        /// Positional arguments.
        args: Vec<Value>,
        /// Keyword arguments.
        kwargs: Vec<Kwarg>,
    },
    /// `$( expr )` or `( expr )`: an expression.
    DollarExpr(Box<Value>),
    /// A binary operation (`+ - * / % **` or a comparison).
    Binary {
        /// The operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Value>,
        /// Right operand.
        rhs: Box<Value>,
    },
    /// `-x` or `not x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        operand: Box<Value>,
    },
    /// `a and b`
    And(Box<Value>, Box<Value>),
    /// `a or b`
    Or(Box<Value>, Box<Value>),
    /// `:prop` (of the current node).
    RelPropValue(RelProp),
    /// `.prop` (of the current node).
    UnivPropValue(UnivProp),
    /// `#tag` (interval of the current node's tag).
    TagValue(TagName),
    /// `#tag:prop` (of the current node).
    TagPropValue(TagProp),
    /// `` `text {expr}` ``: parts are strings and expressions.
    FormatString(Vec<Value>),
    /// `${ query }`: a query object; `text` is the text between the braces.
    EmbedQuery {
        /// The query text.
        text: String,
        /// The parsed query.
        query: Box<Query>,
    },
    /// `{ query }` used as a value.
    SubQuery(Box<SubQuery>),
    /// `{ query }` as a command argument (commands receive its text).
    ArgvQuery {
        /// The text between the braces, without surrounding whitespace.
        text: String,
        /// The parsed query.
        query: Box<Query>,
    },
    /// `($a, $b)` used as an edge-walk verb: the variable *names* themselves, as strings.
    VarList(Vec<String>),
}

/// A keyword argument of a call.
#[derive(Clone, Debug, PartialEq)]
pub struct Kwarg {
    /// The argument name.
    pub name: String,
    /// The value.
    pub value: Value,
    /// Where the argument was written.
    pub span: Span,
}

/// Binary operators of expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `**`
    Pow,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `~=`
    Regex,
    /// `^=`
    Prefix,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "**",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Gt => ">",
            BinOp::Le => "<=",
            BinOp::Ge => ">=",
            BinOp::Regex => "~=",
            BinOp::Prefix => "^=",
        }
    }
}

/// Unary operators of expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `not x`
    Not,
}

/// A query parsed in lookup mode: whitespace-separated indicators and an optional pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    /// The indicators.
    pub items: Vec<Value>,
    /// The query after `|`.
    pub query: Option<Query>,
}
