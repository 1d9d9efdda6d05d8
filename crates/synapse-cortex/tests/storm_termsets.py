#!/usr/bin/env python
'''
Print the terminal sets of the Storm parser (crates/synapse-cortex/src/storm/sets.rs) from the
reference grammar's parse states.

The Storm lexer is contextual: after each token the parser names the terminals that may come
next. Those sets are the ones the reference's parser (lark LALR, synapse/data/lark/storm.lark)
accepts at the same grammar positions; this script finds each state by feeding a short query
prefix that ends at that position to the reference parser, and prints the Rust constants.
Run it with the reference's Python and paste the output after OPER_START in sets.rs:

    python storm_termsets.py > /tmp/sets.rs
'''
import sys

import synapse.lib.parser as s_parser

LARK = s_parser.LarkParser
TABLE = LARK.parser.parser.parser.parse_table
TERMS = {t.name for t in LARK.terminals}

def setat(prefix, start='query'):
    '''The terminals accepted after parsing prefix.'''
    ip = LARK.parse_interactive(prefix, start=start)
    for _ in ip.iter_parse():
        pass
    return sorted(k for k in TABLE.states[ip.parser_state.position].keys() if k in TERMS or k == '$END')

# name, source (a quoted prefix, or "=" and terminal names), doc
SPEC = '''
Q_START	''	At the start of a query.
Q_BRACE_START	'{'	After the opening brace of a subquery or embedded query.
Q_AFTER_LEAD_PIPE	'|'	After a pipe that starts a query.
Q_AFTER_PIPE	'inet:fqdn |'	After a pipe between operators.
Q_FOLLOW	'inet:fqdn -> *'	After an operator that cannot continue.
EDIT_START	'['	After the opening bracket of an edit block.
EDIT_PARENS_START	'[('	After the parenthesis of a parenthesized node add.
AFTER_EDIT_PARENS	'[(inet:fqdn=x)'	After a parenthesized node add.
NODE_ADD_OPER	'[inet:fqdn'	After the form of a node add.
RELPROP_IN_EDIT	'[:foo'	After a relative prop in an edit.
UNIVPROP_IN_EDIT	'[.seen'	After a universal prop in an edit.
EDIT_PLUS	'[+'	After `+` in an edit block.
HASH_ONLY	'[+?'	After `+?` in an edit block.
EDIT_MINUS	'[-'	After `-` in an edit block.
EDGE_EDIT_TARGET	'[+(refs)>'	After the verb of an edge edit.
COND_SET_OPER	'[:foo*unset'	After `*unset` in a conditional prop set.
UNSET_ONLY	'[:foo*'	After the `*` of a conditional prop set.
COND_VAR_AFTER	'[:foo*$x'	After a name in the variable of a conditional prop set.
COND_VAR_DEREF_KEY	'[:foo*$x.'	After a dot in the variable of a conditional prop set.
VALU_START	'inet:fqdn='	Where a value starts.
VF_WORD	'inet:fqdn=foo'	After an unquoted word value.
VF_STR	'inet:fqdn="foo"'	After a quoted string value (or a relative prop value).
VF_UNIV	'inet:fqdn=.seen'	After a universal prop value (or a tag prop name).
VF_VAR	'inet:fqdn=$x'	After a variable, a dereferenced name or a call in a value.
VF_EXPR	'inet:fqdn=$(1)'	After `$( ... )` or a format string in a value.
VF_LIST	'inet:fqdn=(a,b)'	After a list value.
VF_EMBED	'inet:fqdn=${x:y}'	After an embedded query value.
VF_SUBQ	'inet:fqdn={x:y}'	After a subquery value.
VF_TAG	'inet:fqdn=#foo'	After a tag name segment.
TAG_START	'inet:fqdn=#'	After the `#` of a tag name.
TAG_LIFT_START	'#'	After the `#` of a tag lift.
TAGPROP_NAME	'#foo:'	After the colon of a tag prop.
VARTOKN_ONLY	'$'	Only a variable name.
DOLLAR_ONLY	'switch'	Only `$`.
LBRACE_ONLY	'try'	Only `{`.
LPAR_ONLY	'function foo'	Only `(`.
RPAR_ONLY	'$x(,'	Only `)`.
COLON_ONLY	'switch $x { *'	Only `:`.
STAR_ONLY	'inet:fqdn -->'	Only `*`.
IN_ONLY	'for $x'	Only `in`.
BYNAME_ONLY	'inet:fqdn *'	Only a named comparison (`range=`).
WILDTAG_ONLY	=WILDTAGSEGNOVAR	After the `#` of a tag glob.
AFTER_WILDTAG	'+#foo*'	After a segment of a tag glob.
WILDTAG_AFTER_DOT	=DOLLAR WILDTAGSEGNOVAR	After a dot in a tag glob.
COND_START	'+'	Where a filter condition starts.
RELPROP_IN_COND	'+:foo'	After a relative prop in a condition.
UNIVPROP_IN_COND	'+.seen'	After a universal prop in a condition.
PROPS_IN_COND	'+inet:fqdn'	After a prop name in a condition.
WILDPROPS_IN_COND	'+inet:*'	After a wildcard prop name in a condition.
AFTER_COND_SUBQUERY	'+{inet:fqdn}'	After a subquery condition.
AFTER_COND_PAREN	'+(:foo)'	After a parenthesized condition.
ARRAY_CMPR	'inet:fqdn*['	After `*[`.
AFTER_ARRAY_CMP	'inet:fqdn*[=foo]'	After an array comparison.
AFTER_PROPS_LIFT	'inet:fqdn'	After the prop name of a lift.
AFTER_WILDPROPS_LIFT	'inet:*'	After a wildcard prop name of a lift.
AFTER_EMBEDPROPS	'inet:fqdn:zone::x'	After a prop name with embedded props.
REVERSE_LIFT	'reverse('	After `reverse(`.
MINUS_PAREN	'inet:fqdn -('	After `-(` (condition or edge walk).
MINUS_PAREN_PAREN	'inet:fqdn -(('	After `-((`.
PROPS_IN_MINUS_PAREN	'inet:fqdn -(inet:fqdn'	After a prop name in `-(`.
RELPROP_IN_MINUS_PAREN	'inet:fqdn -(:foo'	After a relative prop in `-(`.
UNIVPROP_IN_MINUS_PAREN	'inet:fqdn -(.seen'	After a universal prop in `-(`.
AFTER_MINUS_PAREN_SUBQUERY	'inet:fqdn -({x:y}'	After a subquery in `-(`.
WALK_VERB_END	'inet:fqdn -(refs'	After a walk verb.
WALKLIST_AFTER_ITEM	=COMMA RPAR	After an item of a walk verb list.
WALKLIST_AFTER_COMMA	'inet:fqdn -((refs,'	After a comma of a walk verb list.
WALK_DEST	'inet:fqdn -(refs)>'	Where the destination of an edge walk starts.
AFTER_WALK_DEST	'inet:fqdn -(refs)> inet:fqdn'	After the destination of an edge walk.
RIGHT_PIVOT_TARGET	'inet:fqdn ->'	After `->`.
RIGHT_JOIN_TARGET	'inet:fqdn -+>'	After `-+>`.
LEFT_PIVOT_TARGET	'inet:fqdn <- '	After `<-` and `<+-`.
RELPROP_AT_OPER	':foo'	After a relative prop starting an operator.
PROP_PIVOT_TARGET	':foo ->'	After `:prop ->`.
VAR_AT_OPER	'$x'	After a variable name starting an operator.
VAR_DEREF_AT_OPER	'$x.y'	After a dereferenced name in an operator.
DEREF_KEY	'$x.'	After the dot of a dereference.
DOLLAR_NEXT	'inet:fqdn=$'	After `$` in a value.
VARLIST_START	'('	After the parenthesis of a variable list.
VARLIST_AFTER_NAME	'($x'	After a name in a variable list.
VARLIST_AFTER_COMMA	'($x,'	After a comma in a variable list.
VARLIST_CLOSE	'($x)'	After a variable list.
FOR_VARS	'for'	After `for`.
AFTER_SUBQUERY	'{inet:fqdn}'	After a subquery or a control-flow body.
AFTER_BLOCK	'init {}'	After an init, fini or empty block, or a function.
AFTER_TRY	'try {}'	After a try or catch body.
AFTER_CONTROL	'break '	After break, continue and stop.
AFTER_RETURN	'return()'	After `return(...)`.
RETURN_VALU	'return('	After `return(`.
YIELD_NEXT	'yield '	After `yield`.
SWITCH_CASE	'switch $x {'	Where a switch case starts.
SWITCH_MULTI	'switch $x { ('	In a multi-value switch case.
COMMA_RPAR	=COMMA RPAR	Only `,` or `)`.
FUNC_PARAMS_START	'function foo('	After the parenthesis of a parameter list.
FUNC_PARAM_AFTER_NAME	'function foo(a'	After a parameter name.
CALL_ARGS_START	'$x('	After the parenthesis of a call.
CALL_ARGS_AFTER_COMMA	'$x(a,'	After a comma in a call.
CALL_AFTER_WORD	'$x(a'	After a word (maybe a keyword name) in a call.
EXPR_START	'$x=$('	Where an expression starts.
EXPR_OPERAND	'$x=$(1+'	After a binary operator.
EXPR_POW_OPERAND	'$x=$(1**'	After `**`.
E_AFTER_ATOM	'$x=$(1'	After a literal in an expression.
E_AFTER_VAR	'$x=$($y'	After a variable in an expression.
E_AFTER_UNIV	'$x=$(.seen'	After a universal prop in an expression.
E_AFTER_TAGSEG	'$x=$(#foo'	After a tag segment in an expression.
EXPR_TAG_START	'$x=$(#'	After `#` in an expression.
EXPR_TAG_AFTER_DOT	'$x=$(#foo.'	After a dot of a tag in an expression.
EXPRVARTOKN_ONLY	'$x=$(:$'	Only an expression variable name.
DOLLAR_NEXT_EXPR	'$x=$($'	After `$` in an expression.
INNER_DEREF_KEY	'$x=$((1).'	After the dot of a dereference of a parenthesized expression.
JSON_LIST_START	'$x=$(['	After `[` or a comma in an expression list.
JSON_LIST_AFTER_WORD	'$x=$([a'	After a word in an expression list.
JSON_DICT_START	'$x=$({'	After `{` or a comma in an expression dict.
JSON_DICT_AFTER_KEY	'$x=$({a'	After a word key in an expression dict.
JSON_DICT_VALUE	'$x=$({a:'	After the colon of an expression dict.
JSON_DICT_AFTER_VALUE	'$x=$({a:b'	After a word value in an expression dict.
FMT_BODY	'$x=`'	Inside a format string.
PAREN_FIRST	'$x=('	After the parenthesis of a list or expression.
PAREN_BRACE	'$x=({'	After `({` (dict or subquery).
PAREN_FIRST_OR_VARLIST	'$x=({('	After `({(`.
LSQB_MERGED	'$x=({['	After `({[`.
LIST_START	':foo -> ('	After the parenthesis of a list.
LIST_AFTER_COMMA	'$x=(a,'	After a comma in a list.
CMD_AFTER_NAME	'limit'	After a command name.
CMD_AFTER_OPT	'limit --foo'	After a command option.
CMD_OPT_VALUE	'limit --foo='	After `--opt=`.
CMD_AFTER_WORD	'limit 10'	After an unquoted command argument.
CMD_AFTER_NAMEISH	'limit inet:fqdn'	After a name-like command argument.
CMD_AFTER_PUNCT	'limit +'	After punctuation in a command argument.
CMD_AFTER_GLUE	'limit a='	After `,`, `=` or `]` inside a command argument.
CMD_AFTER_DOT	'limit .'	After a dot starting a command argument.
CMD_AFTER_ARGV_QUERY	'limit {inet:fqdn}'	After a subquery command argument.
LOOK_START	=DOUBLEQUOTEDSTRING SINGLEQUOTEDSTRING WHITETOKN VBAR $END	In the indicator list of lookup mode.
COND_INNER_PAREN_CLOSE	'+((:foo)'	After a parenthesized condition inside a condition.
COND_VAR_CALL_CLOSE	'[:foo*$x()'	After a call in the variable of a conditional prop set.
PROPS_IN_MINUS_PAREN_PAREN	'inet:fqdn -((inet:ipv4'	After a prop name in `-((`.
RELPROP_IN_MINUS_PAREN_PAREN	'inet:fqdn -((:foo'	After a relative prop in `-((`.
UNIVPROP_IN_MINUS_PAREN_PAREN	'inet:fqdn -((.seen'	After a universal prop in `-((`.
TAGPROP_IN_COND	'+#foo:bar'	After the prop name of a tag prop condition.
FORMTAGPROP_IN_LIFT	'inet:fqdn#foo:bar'	After the prop name of a `form#tag:prop` lift.
CMDR_NEXT	=$END CMDOPT CMDRTOKN DOUBLEQUOTEDSTRING EQNOSPACE LBRACE SINGLEQUOTEDSTRING	In a cmdr argument list.
CMDR_START	=CMDOPT CMDRTOKN DOUBLEQUOTEDSTRING LBRACE SINGLEQUOTEDSTRING	At the start of a cmdr argument list.
VAR_IN_MINUS_PAREN_PAREN	'inet:fqdn -(($x'	After a variable name in `-((`.
DEREF_NAME_AFTER_EXPR	"return(('a').b"	After a dereferenced name following `$( ... )` or `( ... )` in a value.
PAREN_STR_AFTER	'$x=("a"'	After a quoted string first in parentheses (list or expression).
'''

RUST = {
    'CMDOPT': 'CmdOpt',
    'CONTINUE': 'Continue',
    '_RETURN': 'Return',
    'BREAK': 'Break',
    '_STOP': 'Stop',
    '_EMIT': 'Emit',
    '_WALKNJOINN1': 'WalkNJoinN1',
    '_WALKNJOINN2': 'WalkNJoinN2',
    'MODSETMULTI': 'ModSetMulti',
    '_LEFTPIVOT': 'LeftPivot',
    '_LEFTJOIN': 'LeftJoin',
    '_RIGHTJOIN': 'RightJoin',
    '_WALKNPIVON1': 'WalkNPivoN1',
    '_WALKNPIVON2': 'WalkNPivoN2',
    'MODSET': 'ModSet',
    '_RIGHTPIVOT': 'RightPivot',
    '_MATCHHASHWILD': 'MatchHashWild',
    'WILDPROPS': 'WildProps',
    'PROPS': 'Props',
    '_ARRAYCONDSTART': 'ArrayCondStart',
    'ALLTAGS': 'AllTags',
    '_DEREF': 'Deref',
    '_MATCHHASH': 'MatchHash',
    'CASEBARE': 'CaseBare',
    'MCASEBARE': 'MCaseBare',
    'EXPRNEG': 'ExprNeg',
    'CMDNAME': 'CmdName',
    'EMBEDPROPS': 'EmbedProps',
    'EXPRUNIVNAME': 'ExprUnivName',
    'UNIVNAME': 'UnivName',
    'CCOMMENT': 'CComment',
    'BYNAME': 'ByName',
    'CPPCOMMENT': 'CppComment',
    'BOOL': 'Bool',
    '_EMPTY': 'Empty',
    'NULL': 'Null',
    '_ELSE': 'Else',
    '_FINI': 'Fini',
    '_INIT': 'Init',
    'NOTOP': 'NotOp',
    'AND': 'And',
    'EXPRPOW': 'ExprPow',
    'OR': 'Or',
    '_EDGEADDN1INIT': 'EdgeAddN1Init',
    '_EDGEN1INIT': 'EdgeN1Init',
    '_LPARNOSPACE': 'LParNoSpace',
    '_COLONNOSPACE': 'ColonNoSpace',
    '_EXPRCOLONNOSPACE': 'ExprColonNoSpace',
    '_HASH': 'Hash',
    '_HASHSPACE': 'HashSpace',
    'EXPRMINUS': 'ExprMinus',
    'DEFAULTCASE': 'DefaultCase',
    'EXPRDIVIDE': 'ExprDivide',
    'EXPRMODULO': 'ExprModulo',
    'EXPRPLUS': 'ExprPlus',
    'EXPRTIMES': 'ExprTimes',
    'NUMBER': 'Number',
    'OCTNUMBER': 'OctNumber',
    'HEXNUMBER': 'HexNumber',
    'LISTTOKN': 'ListTokn',
    'YIELD': 'Yield',
    'TRYMODSETMULTI': 'TryModSetMulti',
    'TRYMODSET': 'TryModSet',
    'TRYSET': 'TrySet',
    '_EDGEN2INIT': 'EdgeN2Init',
    'CMPROTHER': 'CmprOther',
    'EXPRRELNAME': 'ExprRelName',
    'RELNAME': 'RelName',
    'NONQUOTEWORD': 'NonQuoteWord',
    'BASEPROP': 'BaseProp',
    'EXPRVARTOKN': 'ExprVarTokn',
    'VARTOKN': 'VarTokn',
    'DOUBLEQUOTEDSTRING': 'DoubleQuotedString',
    'SINGLEQUOTEDSTRING': 'SingleQuotedString',
    'TRIPLEQUOTEDSTRING': 'TripleQuotedString',
    'WILDTAGSEGNOVAR': 'WildTagSegNoVar',
    'EXPRTAGSEGNOVAR': 'ExprTagSegNoVar',
    'TAGSEGNOVAR': 'TagSegNoVar',
    'FUNCTION': 'Function',
    '_REVERSE': 'Reverse',
    'SWITCH': 'Switch',
    'CATCH': 'Catch',
    'UNSET': 'Unset',
    'WHILE': 'While',
    'ELIF': 'Elif',
    'FOR': 'For',
    'TRY': 'Try',
    '_EDGEN1JOINFINI': 'EdgeN1JoinFini',
    '_EDGEN2JOININIT': 'EdgeN2JoinInit',
    '_NOT': 'Not',
    'CMPR': 'Cmpr',
    '_COLONDOLLAR': 'ColonDollar',
    'AS': 'As',
    'COMMASPACE': 'CommaSpace',
    'IF': 'If',
    'IN': 'In',
    '_EDGEADDN2FINI': 'EdgeAddN2Fini',
    '_EDGEN1FINI': 'EdgeN1Fini',
    '_EDGEN2FINI': 'EdgeN2Fini',
    '_EMBEDQUERYSTART': 'EmbedQueryStart',
    'EQSPACE': 'EqSpace',
    'RSQBNOSPACE': 'RSqbNoSpace',
    'COMMANOSPACE': 'CommaNoSpace',
    'EQNOSPACE': 'EqNoSpace',
    'BACKQUOTE': 'Backquote',
    'COLON': 'Colon',
    'COMMA': 'Comma',
    'DOLLAR': 'Dollar',
    'DOT': 'Dot',
    'EQUAL': 'Equal',
    'LBRACE': 'LBrace',
    'LPAR': 'LPar',
    'LSQB': 'LSqb',
    'RBRACE': 'RBrace',
    'RPAR': 'RPar',
    'RSQB': 'RSqb',
    'SETTAGOPER': 'SetTagOper',
    'VBAR': 'VBar',
    'WILDCARD': 'Wildcard',
    'FORMATTEXT': 'FormatText',
    'CMDRTOKN': 'CmdrTokn',
    'WS': 'Ws',
    'WHITETOKN': 'WhiteTokn',
    '$END': 'End',
}

OPER = set('''BREAK CMDNAME CONTINUE DOLLAR EMBEDPROPS EXPRMINUS EXPRPLUS FOR FUNCTION IF LBRACE LPAR LSQB
    PROPS RELNAME SWITCH TRY UNIVNAME WHILE WILDPROPS YIELD _COLONDOLLAR _DEREF _EDGEADDN1INIT _EDGEN1INIT
    _EDGEN2INIT _EDGEN2JOININIT _EMIT _EMPTY _FINI _HASH _HASHSPACE _INIT _LEFTJOIN _LEFTPIVOT _RETURN
    _REVERSE _RIGHTJOIN _RIGHTPIVOT _STOP _WALKNJOINN1 _WALKNJOINN2 _WALKNPIVON1 _WALKNPIVON2'''.split())

def terms(src):
    if src.startswith('='):
        return set(src[1:].split())
    return set(setat(src[1:-1]))

def main():
    for line in SPEC.strip().splitlines():
        name, src, doc = line.split('\t')
        found = terms(src)
        print(f'/// {doc}')
        if OPER <= found:
            rest = ', '.join(RUST[t] for t in sorted(found - OPER))
            print(f'pub(crate) const {name}: TermSet = OPER_START.or(TermSet::of(&[{rest}]));')
        else:
            items = ', '.join(RUST[t] for t in sorted(found))
            print(f'pub(crate) const {name}: TermSet = TermSet::of(&[{items}]);')
    return 0

if __name__ == '__main__':
    sys.exit(main())
