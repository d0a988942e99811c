# A minimal JSON reader for the test fixture (JSON.jl is not a standard library,
# and the tests must run offline with stdlib only).
#
#   parse_json(text) -> Any
#
# objects -> Dict{String,Any}, arrays -> Vector{Any}, strings -> String,
# numbers -> Int64 (no fraction or exponent) or Float64, true/false -> Bool,
# null -> nothing. Strict enough for well-formed input; throws ArgumentError
# with the byte offset on anything else.
module JsonMin

export parse_json

mutable struct Reader
    s::Vector{UInt8}
    i::Int            # next byte, 1-based
end

_fail(r::Reader, what) = throw(ArgumentError("JSON: $what at byte $(r.i)"))
_peek(r::Reader) = r.i <= length(r.s) ? r.s[r.i] : 0x00

function _skip_ws(r::Reader)
    while r.i <= length(r.s) && r.s[r.i] in (UInt8(' '), UInt8('\t'), UInt8('\n'), UInt8('\r'))
        r.i += 1
    end
end

function _expect(r::Reader, c::Char)
    _peek(r) == UInt8(c) || _fail(r, "expected '$c'")
    r.i += 1
    return nothing
end

function _literal(r::Reader, word::String, value)
    n = ncodeunits(word)
    r.i + n - 1 <= length(r.s) && String(r.s[r.i:r.i+n-1]) == word || _fail(r, "expected $word")
    r.i += n
    return value
end

function _value(r::Reader)
    _skip_ws(r)
    c = _peek(r)
    c == UInt8('{') && return _object(r)
    c == UInt8('[') && return _array(r)
    c == UInt8('"') && return _string(r)
    c == UInt8('t') && return _literal(r, "true", true)
    c == UInt8('f') && return _literal(r, "false", false)
    c == UInt8('n') && return _literal(r, "null", nothing)
    (c == UInt8('-') || UInt8('0') <= c <= UInt8('9')) && return _number(r)
    _fail(r, c == 0x00 ? "unexpected end of input" : "unexpected character '$(Char(c))'")
end

function _object(r::Reader)
    _expect(r, '{')
    d = Dict{String,Any}()
    _skip_ws(r)
    if _peek(r) == UInt8('}')
        r.i += 1
        return d
    end
    while true
        _skip_ws(r)
        key = _string(r)
        _skip_ws(r)
        _expect(r, ':')
        d[key] = _value(r)
        _skip_ws(r)
        c = _peek(r)
        r.i += 1
        c == UInt8('}') && return d
        c == UInt8(',') || (r.i -= 1; _fail(r, "expected ',' or '}'"))
    end
end

function _array(r::Reader)
    _expect(r, '[')
    a = Any[]
    _skip_ws(r)
    if _peek(r) == UInt8(']')
        r.i += 1
        return a
    end
    while true
        push!(a, _value(r))
        _skip_ws(r)
        c = _peek(r)
        r.i += 1
        c == UInt8(']') && return a
        c == UInt8(',') || (r.i -= 1; _fail(r, "expected ',' or ']'"))
    end
end

function _hex4(r::Reader)
    r.i + 3 <= length(r.s) || _fail(r, "truncated \\u escape")
    v = parse(UInt32, String(r.s[r.i:r.i+3]); base = 16)
    r.i += 4
    return v
end

function _string(r::Reader)
    _expect(r, '"')
    out = IOBuffer()
    while true
        r.i <= length(r.s) || _fail(r, "unterminated string")
        c = r.s[r.i]
        r.i += 1
        if c == UInt8('"')
            return String(take!(out))
        elseif c == UInt8('\\')
            r.i <= length(r.s) || _fail(r, "unterminated escape")
            e = r.s[r.i]
            r.i += 1
            if e == UInt8('"') || e == UInt8('\\') || e == UInt8('/')
                write(out, e)
            elseif e == UInt8('b')
                write(out, UInt8('\b'))
            elseif e == UInt8('f')
                write(out, UInt8('\f'))
            elseif e == UInt8('n')
                write(out, UInt8('\n'))
            elseif e == UInt8('r')
                write(out, UInt8('\r'))
            elseif e == UInt8('t')
                write(out, UInt8('\t'))
            elseif e == UInt8('u')
                u = _hex4(r)
                if 0xd800 <= u <= 0xdbff && _peek(r) == UInt8('\\') && r.i + 1 <= length(r.s) &&
                   r.s[r.i+1] == UInt8('u')
                    r.i += 2
                    lo = _hex4(r)
                    0xdc00 <= lo <= 0xdfff || _fail(r, "bad surrogate pair")
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00)
                end
                print(out, Char(u))
            else
                r.i -= 1
                _fail(r, "bad escape")
            end
        else
            write(out, c)   # UTF-8 bytes pass through unchanged
        end
    end
end

function _number(r::Reader)
    start = r.i
    isfloat = false
    while r.i <= length(r.s)
        c = r.s[r.i]
        if UInt8('0') <= c <= UInt8('9') || c == UInt8('-') || c == UInt8('+')
            r.i += 1
        elseif c == UInt8('.') || c == UInt8('e') || c == UInt8('E')
            isfloat = true
            r.i += 1
        else
            break
        end
    end
    text = String(r.s[start:r.i-1])
    v = isfloat ? tryparse(Float64, text) : tryparse(Int64, text)
    v === nothing && (r.i = start; _fail(r, "bad number '$text'"))
    return v
end

function parse_json(text::AbstractString)
    r = Reader(Vector{UInt8}(codeunits(String(text))), 1)
    v = _value(r)
    _skip_ws(r)
    r.i > length(r.s) || _fail(r, "trailing characters")
    return v
end

end # module
