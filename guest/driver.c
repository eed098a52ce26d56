/*
 * skillforge guest driver: runs one call of a JavaScript skill in QuickJS-ng.
 *
 * The contract with the Rust host is guest/ABI.md. In short: read a JSON
 * header line {entry, args, max_stack_bytes} and then the source from stdin,
 * evaluate the source as a global script, call `entry(...args)` (draining the job queue, so async
 * entries work), and hand back exactly one JSON result through the
 * `skillforge.emit` import. The only way out of the sandbox is the
 * `skillforge.host_call` import behind `host.call(name, args)`.
 *
 * Nothing of quickjs-libc is linked: no std/os modules, no module loader,
 * no timers. Date and performance.now read the WASI clocks (through
 * wasi-libc's gettimeofday/clock_gettime) and Math.random is seeded from WASI
 * random_get, so the host decides whether they are real or deterministic.
 */

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

#include "quickjs.h"

/* Set by build.sh; the defaults only keep editors happy. */
#ifndef SF_SHADOW_STACK_BYTES
#define SF_SHADOW_STACK_BYTES (1024 * 1024)
#endif
/* Room left on the shadow stack for C frames between two QuickJS stack
   checks, and for the driver itself: max_stack_bytes is capped below this. */
#define SF_STACK_RESERVE (256 * 1024)
#define SF_MAX_STACK_CAP (SF_SHADOW_STACK_BYTES - SF_STACK_RESERVE)

/* ------------------------------------------------------------------ */
/* Host imports and exports                                            */

enum { EMIT_STDOUT = 0, EMIT_STDERR = 1, EMIT_RESULT = 2 };

__attribute__((import_module("skillforge"), import_name("emit")))
extern void sf_emit(int32_t kind, const char *ptr, int32_t len);

__attribute__((import_module("skillforge"), import_name("host_call")))
extern int64_t sf_host_call(const char *name, int32_t name_len,
                            const char *args, int32_t args_len);

/* The host asks for a buffer for its host_call reply. One extra byte is
   reserved and zeroed so the reply can be parsed in place (JS_ParseJSON
   wants a NUL after the text). */
__attribute__((export_name("sf_alloc")))
void *sf_alloc(int32_t len)
{
    if (len < 0)
        return NULL;
    char *p = malloc((size_t)len + 1);
    if (p)
        p[len] = '\0';
    return p;
}

/* ------------------------------------------------------------------ */
/* A growable byte buffer; every emitted message is built in one.      */

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void buf_puts(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* QuickJS encodes a lone UTF-16 surrogate as the 3-byte sequence
   ED A0..BF xx, which is not UTF-8. Replace each with U+FFFD (also 3 bytes)
   so the host only ever receives valid UTF-8. */
static void fix_lone_surrogates(char *p, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++) {
        if ((unsigned char)p[i] == 0xED && (unsigned char)p[i + 1] >= 0xA0) {
            p[i] = (char)0xEF;
            p[i + 1] = (char)0xBF;
            p[i + 2] = (char)0xBD;
            i += 2;
        }
    }
}

/* Emit the buffer and release it. */
static void buf_emit(int kind, Buf *b)
{
    if (!b->oom) {
        fix_lone_surrogates(b->p, b->len);
        sf_emit(kind, b->p ? b->p : "", (int32_t)b->len);
    }
    free(b->p);
    *b = (Buf){0};
}

/* ------------------------------------------------------------------ */
/* Engine state                                                        */

static JSRuntime *rt;
static JSContext *ctx;
static uint64_t random_state; /* Math.random, seeded per call */

/* The last resort when even building the error result fails (out of
   memory): a fixed text. */
static const char OOM_RESULT[] =
    "{\"ok\":false,\"error\":{\"name\":\"InternalError\","
    "\"message\":\"out of memory\",\"stack\":\"\"}}";

/* Append a JS string value (or anything, via ToString) as UTF-8. Returns
   false, with the exception cleared, when the conversion throws. */
static bool buf_put_js(Buf *b, JSValueConst v)
{
    size_t n;
    const char *s = JS_ToCStringLen(ctx, &n, v);
    if (!s) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return false;
    }
    buf_put(b, s, n);
    JS_FreeCString(ctx, s);
    return true;
}

/* `String(v)` that never throws: symbols become "Symbol(desc)" and a value
   whose conversion throws becomes a placeholder. */
static void buf_put_string_of(Buf *b, JSValueConst v)
{
    if (JS_IsSymbol(v)) {
        JSValue d = JS_GetPropertyStr(ctx, v, "description");
        buf_puts(b, "Symbol(");
        if (JS_IsString(d))
            buf_put_js(b, d);
        buf_puts(b, ")");
        JS_FreeValue(ctx, d);
        return;
    }
    if (!buf_put_js(b, v))
        buf_puts(b, "[value that cannot be converted to a string]");
}

/* ------------------------------------------------------------------ */
/* Results                                                             */

static void emit_result(Buf *b)
{
    if (b->oom) {
        free(b->p);
        *b = (Buf){0};
        sf_emit(EMIT_RESULT, OOM_RESULT, (int32_t)(sizeof OOM_RESULT - 1));
    } else {
        buf_emit(EMIT_RESULT, b);
    }
}

/* Append `s` as a JSON string literal, using QuickJS's own JSON.stringify
   so escaping (and lone surrogates) are handled exactly like values. */
static void buf_put_json_string(Buf *b, const char *s, size_t n)
{
    JSValue str = JS_NewStringLen(ctx, s, n);
    JSValue json = JS_IsException(str)
        ? JS_EXCEPTION
        : JS_JSONStringify(ctx, str, JS_UNDEFINED, JS_UNDEFINED);
    JS_FreeValue(ctx, str);
    if (JS_IsException(json) || !buf_put_js(b, json)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        b->oom = true; /* only allocation can fail here */
    }
    JS_FreeValue(ctx, json);
}

/* {"ok":false,"error":{"name":N,"message":M,"stack":S}} from UTF-8 parts. */
static void emit_error_parts(const Buf *name, const Buf *message,
                             const Buf *stack)
{
    Buf b = {0};
    buf_puts(&b, "{\"ok\":false,\"error\":{\"name\":");
    buf_put_json_string(&b, name->p ? name->p : "", name->len);
    buf_puts(&b, ",\"message\":");
    buf_put_json_string(&b, message->p ? message->p : "", message->len);
    buf_puts(&b, ",\"stack\":");
    buf_put_json_string(&b, stack->p ? stack->p : "", stack->len);
    buf_puts(&b, "}}");
    emit_result(&b);
}

/* Error result for a failure of the driver itself (bad input). */
static void emit_driver_error(const char *message)
{
    Buf name = {0}, msg = {0}, stack = {0};
    buf_puts(&name, "DriverError");
    buf_puts(&msg, message);
    emit_error_parts(&name, &msg, &stack);
    free(name.p);
    free(msg.p);
}

/* Append property `prop` of `obj` converted to a string; false (and
   nothing appended) if it is undefined or reading it throws. */
static bool buf_put_prop(Buf *b, JSValueConst obj, const char *prop)
{
    JSValue v = JS_GetPropertyStr(ctx, obj, prop);
    if (JS_IsException(v)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return false;
    }
    bool ok = !JS_IsUndefined(v);
    if (ok)
        buf_put_string_of(b, v);
    JS_FreeValue(ctx, v);
    return ok;
}

/* Error result for a thrown value (takes ownership of `exc`). Errors give
   their name, message and stack; any other value is reported as name
   "Error" with message String(value). */
static void emit_thrown(JSValue exc)
{
    Buf name = {0}, msg = {0}, stack = {0};
    if (JS_IsError(exc)) {
        if (!buf_put_prop(&name, exc, "name"))
            buf_puts(&name, "Error");
        buf_put_prop(&msg, exc, "message");
        JSValue s = JS_GetPropertyStr(ctx, exc, "stack");
        if (JS_IsString(s))
            buf_put_js(&stack, s);
        else if (JS_IsException(s))
            JS_FreeValue(ctx, JS_GetException(ctx));
        JS_FreeValue(ctx, s);
    } else {
        buf_puts(&name, "Error");
        buf_put_string_of(&msg, exc);
    }
    JS_FreeValue(ctx, exc);
    if (name.oom || msg.oom || stack.oom) {
        Buf b = {.oom = true};
        emit_result(&b);
    } else {
        emit_error_parts(&name, &msg, &stack);
    }
    free(name.p);
    free(msg.p);
    free(stack.p);
}

/* Error result for the pending exception. */
static void emit_exception(void) { emit_thrown(JS_GetException(ctx)); }

/* {"ok":true,"value":JSON.stringify(v)}, undefined -> null. */
static void emit_value(JSValueConst v)
{
    JSValue json = JS_JSONStringify(ctx, v, JS_UNDEFINED, JS_UNDEFINED);
    if (JS_IsException(json)) {
        emit_exception();
        return;
    }
    Buf b = {0};
    buf_puts(&b, "{\"ok\":true,\"value\":");
    if (JS_IsUndefined(json))
        buf_puts(&b, "null");
    else if (!buf_put_js(&b, json))
        b.oom = true;
    buf_puts(&b, "}");
    JS_FreeValue(ctx, json);
    emit_result(&b);
}

/* ------------------------------------------------------------------ */
/* console                                                             */

/* Format one console argument roughly like node: strings raw, errors by
   their stack, functions as [Function: name], other objects as JSON when
   they can be, everything else (and the rest) by String(v). */
static void console_format(Buf *b, JSValueConst v)
{
    if (JS_IsString(v)) {
        buf_put_js(b, v);
        return;
    }
    if (JS_IsBigInt(v)) {
        buf_put_string_of(b, v);
        buf_puts(b, "n");
        return;
    }
    if (JS_IsFunction(ctx, v)) {
        Buf name = {0};
        buf_puts(b, "[Function");
        if (buf_put_prop(&name, v, "name") && name.len > 0 && !name.oom) {
            buf_puts(b, ": ");
            buf_put(b, name.p, name.len);
        } else {
            buf_puts(b, " (anonymous)");
        }
        buf_puts(b, "]");
        free(name.p);
        return;
    }
    if (JS_IsError(v)) {
        /* QuickJS's stack holds only the frames; print "Name: message"
           first like node does. */
        buf_put_string_of(b, v);
        JSValue s = JS_GetPropertyStr(ctx, v, "stack");
        if (JS_IsString(s)) {
            buf_puts(b, "\n");
            buf_put_js(b, s);
        } else if (JS_IsException(s)) {
            JS_FreeValue(ctx, JS_GetException(ctx));
        }
        JS_FreeValue(ctx, s);
        return;
    }
    if (JS_IsObject(v)) {
        JSValue json = JS_JSONStringify(ctx, v, JS_UNDEFINED, JS_UNDEFINED);
        if (JS_IsString(json)) {
            buf_put_js(b, json);
            JS_FreeValue(ctx, json);
            return;
        }
        if (JS_IsException(json)) /* cycles, BigInt inside, ... */
            JS_FreeValue(ctx, JS_GetException(ctx));
        JS_FreeValue(ctx, json);
    }
    buf_put_string_of(b, v);
}

/* console.log/info/debug (magic EMIT_STDOUT) and warn/error (EMIT_STDERR):
   one emit per call, arguments joined by a space, no trailing newline. */
static JSValue js_console_print(JSContext *c, JSValueConst this_val,
                                int argc, JSValueConst *argv, int magic)
{
    (void)this_val;
    Buf b = {0};
    for (int i = 0; i < argc; i++) {
        if (i > 0)
            buf_puts(&b, " ");
        console_format(&b, argv[i]);
    }
    if (b.oom) {
        free(b.p);
        return JS_ThrowOutOfMemory(c);
    }
    buf_emit(magic, &b);
    return JS_UNDEFINED;
}

static const JSCFunctionListEntry console_funcs[] = {
    JS_CFUNC_MAGIC_DEF("log", 0, js_console_print, EMIT_STDOUT),
    JS_CFUNC_MAGIC_DEF("info", 0, js_console_print, EMIT_STDOUT),
    JS_CFUNC_MAGIC_DEF("debug", 0, js_console_print, EMIT_STDOUT),
    JS_CFUNC_MAGIC_DEF("warn", 0, js_console_print, EMIT_STDERR),
    JS_CFUNC_MAGIC_DEF("error", 0, js_console_print, EMIT_STDERR),
};

/* ------------------------------------------------------------------ */
/* host.call(name, args)                                               */

/* Turn a parsed {"ok":false,"error":{"name":N,"message":M}} reply into a
   thrown Error whose .name is N. */
static JSValue throw_host_error(JSContext *c, JSValueConst reply)
{
    JSValue error = JS_GetPropertyStr(c, reply, "error");
    JSValue name = JS_UNDEFINED, message = JS_UNDEFINED;
    if (JS_IsObject(error)) {
        name = JS_GetPropertyStr(c, error, "name");
        message = JS_GetPropertyStr(c, error, "message");
    }
    JS_FreeValue(c, error);
    if (!JS_IsString(name) || !JS_IsString(message)) {
        JS_FreeValue(c, name);
        JS_FreeValue(c, message);
        return JS_ThrowInternalError(c, "host.call: malformed error reply from the host");
    }
    JSValue err = JS_NewError(c); /* the intrinsic Error, with a stack */
    if (JS_IsException(err)) {
        JS_FreeValue(c, name);
        JS_FreeValue(c, message);
        return err;
    }
    JS_DefinePropertyValueStr(c, err, "message", message,
                              JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    JS_DefinePropertyValueStr(c, err, "name", name,
                              JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    return JS_Throw(c, err);
}

/* host.call(name, args): the one capability gateway. The arguments travel
   as JSON.stringify(args) (undefined -> null); the host replies with
   {"ok":true,"value":V} (returns V) or {"ok":false,"error":{...}} (throws). */
static JSValue js_host_call(JSContext *c, JSValueConst this_val,
                            int argc, JSValueConst *argv)
{
    (void)this_val;
    JSValueConst name_v = argc > 0 ? argv[0] : JS_UNDEFINED;
    JSValueConst args_v = argc > 1 ? argv[1] : JS_UNDEFINED;
    if (!JS_IsString(name_v))
        return JS_ThrowTypeError(c, "host.call: the name must be a string");

    JSValue args_json = JS_JSONStringify(c, args_v, JS_UNDEFINED, JS_UNDEFINED);
    if (JS_IsException(args_json))
        return args_json;
    size_t name_len, args_len = 0;
    const char *name = JS_ToCStringLen(c, &name_len, name_v);
    const char *args = JS_IsUndefined(args_json)
        ? NULL : JS_ToCStringLen(c, &args_len, args_json);
    bool failed = !name || (!args && !JS_IsUndefined(args_json));
    int64_t r = 0;
    if (!failed)
        r = args ? sf_host_call(name, (int32_t)name_len, args, (int32_t)args_len)
                 : sf_host_call(name, (int32_t)name_len, "null", 4);
    JS_FreeCString(c, name);
    JS_FreeCString(c, args);
    JS_FreeValue(c, args_json);
    if (failed)
        return JS_EXCEPTION;

    /* The reply sits in a buffer the host got from sf_alloc. */
    char *reply = (char *)(uintptr_t)(uint32_t)((uint64_t)r >> 32);
    size_t reply_len = (uint32_t)r;
    if (!reply)
        return JS_ThrowInternalError(c, "host.call: the host gave no reply");
    reply[reply_len] = '\0'; /* the byte sf_alloc reserved */
    JSValue msg = JS_ParseJSON(c, reply, reply_len, "<host reply>");
    free(reply);
    /* The host's reply is JSON (serde_json wrote it): a parse that fails ran out of stack
       or memory, or was interrupted at a limit. That error is the one to throw; said to be
       a bad reply, a runaway recursion read as a host bug to the skill's author. */
    if (JS_IsException(msg))
        return msg;
    JSValue ok = JS_GetPropertyStr(c, msg, "ok");
    JSValue ret;
    if (JS_IsBool(ok) && JS_ToBool(c, ok))
        ret = JS_GetPropertyStr(c, msg, "value");
    else if (JS_IsBool(ok))
        ret = throw_host_error(c, msg);
    else
        ret = JS_ThrowInternalError(c, "host.call: malformed reply from the host");
    JS_FreeValue(c, ok);
    JS_FreeValue(c, msg);
    return ret;
}

static const JSCFunctionListEntry host_funcs[] = {
    JS_CFUNC_DEF("call", 2, js_host_call),
};

/* ------------------------------------------------------------------ */
/* assert                                                              */

/* The `assert` of skill tests (a subset of node:assert), one JavaScript
   expression kept beside the Rust code that runs tests. Embedded here so it
   is evaluated once, in init_engine, and a start-up snapshot holds it
   compiled: no call parses it. */
static const char ASSERT_JS[] = {
#embed "../src/validate_assert.js"
    , 0};

/* Define globalThis.assert as the value of ASSERT_JS. */
static bool define_assert(JSValueConst global)
{
    JSValue value = JS_Eval(ctx, ASSERT_JS, sizeof ASSERT_JS - 1, "assert.js",
                            JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(value)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return false;
    }
    return JS_DefinePropertyValueStr(ctx, global, "assert", value,
                                     JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE) >= 0;
}

/* ------------------------------------------------------------------ */
/* Math.random                                                         */

/* QuickJS seeds its own generator from the wall clock; ours is the same
   xorshift64* but seeded from WASI random_get at the start of each call,
   so randomness is exactly what the host's random source gives. */
static JSValue js_math_random(JSContext *c, JSValueConst this_val,
                              int argc, JSValueConst *argv)
{
    (void)this_val;
    (void)argc;
    (void)argv;
    uint64_t x = random_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    random_state = x;
    uint64_t v = x * 0x2545F4914F6CDD1DULL;
    return JS_NewFloat64(c, (double)(v >> 11) * 0x1.0p-53); /* [0, 1) */
}

static void seed_random(void)
{
    if (__wasi_random_get((uint8_t *)&random_state, sizeof random_state) != 0
        || random_state == 0)
        random_state = 0x9E3779B97F4A7C15ULL; /* xorshift needs non-zero */
}

/* ------------------------------------------------------------------ */
/* Engine set-up and the call                                          */

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Define globalThis[name] = a new object holding `funcs`. */
static int define_namespace(JSValueConst global, const char *name,
                            const JSCFunctionListEntry *funcs, int n)
{
    JSValue obj = JS_NewObject(ctx);
    if (JS_IsException(obj) || JS_SetPropertyFunctionList(ctx, obj, funcs, n) < 0) {
        JS_FreeValue(ctx, obj);
        return -1;
    }
    return JS_DefinePropertyValueStr(ctx, global, name, obj,
                                     JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
}

static bool engine_ready;

/* Create the runtime and a context with JS_NewContext's intrinsics except
   `performance` (its time origin belongs to the call, see begin_call), and
   install console, host, assert and our Math.random. Nothing here depends on
   the call's input, so a snapshotting tool can run it ahead of time (see
   sf_wizer_initialize); only QuickJS's internal hash seed reads the clock. */
static bool init_engine(void)
{
    if (engine_ready)
        return true;
    rt = JS_NewRuntime();
    ctx = rt ? JS_NewContextRaw(rt) : NULL;
    if (!ctx)
        return false;
    if (JS_AddIntrinsicBaseObjects(ctx) || JS_AddIntrinsicDate(ctx)
        || JS_AddIntrinsicEval(ctx) || JS_AddIntrinsicRegExp(ctx)
        || JS_AddIntrinsicJSON(ctx) || JS_AddIntrinsicProxy(ctx)
        || JS_AddIntrinsicMapSet(ctx) || JS_AddIntrinsicTypedArrays(ctx)
        || JS_AddIntrinsicPromise(ctx) || JS_AddIntrinsicWeakRef(ctx)
        || JS_AddIntrinsicAToB(ctx))
        return false;
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue math = JS_GetPropertyStr(ctx, global, "Math");
    bool ok = define_namespace(global, "console", console_funcs, COUNT(console_funcs)) >= 0
        && define_namespace(global, "host", host_funcs, COUNT(host_funcs)) >= 0
        && define_assert(global)
        && JS_IsObject(math)
        /* replaces the existing property, keeping its attributes */
        && JS_SetPropertyStr(ctx, math, "random",
                             JS_NewCFunction(ctx, js_math_random, "random", 0)) >= 0;
    JS_FreeValue(ctx, math);
    JS_FreeValue(ctx, global);
    engine_ready = ok;
    return ok;
}

/* What belongs to this call rather than to the engine: the random seed and
   performance's time origin, both read from WASI now. */
static bool begin_call(void)
{
    seed_random();
    return JS_AddPerformance(ctx) == 0;
}

/* Pre-initialisation hook for wasmtime-wizer (its default init function
   name): create the engine so a snapshot of memory holds it, and the
   snapshot's _start skips straight to the call. Not used otherwise. */
__attribute__((export_name("wizer.initialize")))
void sf_wizer_initialize(void)
{
    init_engine();
}

/* Read all of stdin into a NUL-terminated buffer (NULL on failure). */
static char *read_stdin(size_t *plen)
{
    static char chunk[16384];
    Buf b = {0};
    for (;;) {
        ssize_t n = read(0, chunk, sizeof chunk);
        if (n < 0) {
            free(b.p);
            return NULL;
        }
        if (n == 0)
            break;
        buf_put(&b, chunk, (size_t)n);
    }
    buf_put(&b, "", 1);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *plen = b.len - 1;
    return b.p;
}

/* Run queued promise jobs until none are left. False, with the exception
   pending, if a job threw. */
static bool run_jobs(void)
{
    JSContext *job_ctx;
    int r;
    while ((r = JS_ExecutePendingJob(rt, &job_ctx)) > 0)
        ;
    return r == 0;
}

/* The call's input, validated. `text` (owned) holds all of stdin: the
   header line, then the source; JS values are owned. */
typedef struct {
    char *text;
    const char *source;
    size_t source_len;
    JSValue entry, args;
    size_t max_stack;
} Input;

/* Parse and check stdin: one line of JSON {entry, args, max_stack_bytes},
   then the source, raw, to the end (see ABI.md). On failure emit a
   DriverError and return false. */
static bool read_input(Input *in)
{
    size_t len;
    in->text = read_stdin(&len);
    if (!in->text) {
        emit_driver_error("cannot read the input from stdin");
        return false;
    }
    char *newline = memchr(in->text, '\n', len);
    if (!newline) {
        emit_driver_error("the input needs a header line, then the source");
        return false;
    }
    size_t header_len = (size_t)(newline - in->text);
    *newline = '\0'; /* JS_ParseJSON wants a NUL after the text */
    in->source = newline + 1;
    in->source_len = len - header_len - 1; /* NUL-terminated by read_stdin */
    JSValue req = JS_ParseJSON(ctx, in->text, header_len, "<input>");
    if (JS_IsException(req)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        emit_driver_error("the input's header line is not valid JSON");
        return false;
    }
    in->entry = JS_GetPropertyStr(ctx, req, "entry");
    in->args = JS_GetPropertyStr(ctx, req, "args");
    JSValue stack = JS_GetPropertyStr(ctx, req, "max_stack_bytes");
    JS_FreeValue(ctx, req);

    const char *problem = NULL;
    double stack_d = JS_DEFAULT_STACK_SIZE;
    if (!JS_IsString(in->entry))
        problem = "the input needs \"entry\": a string";
    else if (!JS_IsUndefined(in->args) && !JS_IsArray(in->args))
        problem = "\"args\" must be an array";
    else if (!JS_IsUndefined(stack) && !JS_IsNull(stack)
             && (!JS_IsNumber(stack) || JS_ToFloat64(ctx, &stack_d, stack) < 0
                 || !(stack_d >= 1) || stack_d != trunc(stack_d)))
        problem = "\"max_stack_bytes\" must be a positive integer";
    JS_FreeValue(ctx, stack);
    if (problem) {
        emit_driver_error(problem);
        return false;
    }
    /* Keep room below the limit for C frames: the shadow stack is fixed. */
    in->max_stack = stack_d > SF_MAX_STACK_CAP ? SF_MAX_STACK_CAP : (size_t)stack_d;
    return true;
}

/* Call entry(...args) and emit the result, always exactly once. */
static void run_call(void)
{
    Input in = {NULL, NULL, 0, JS_UNDEFINED, JS_UNDEFINED, 0};
    JSValue fn = JS_UNDEFINED, ret = JS_UNDEFINED;
    JSValue *argv = NULL;
    int64_t argc = 0;

    if (!read_input(&in))
        goto done;
    JS_UpdateStackTop(rt); /* measure the JS stack from here */
    JS_SetMaxStackSize(rt, in.max_stack);

    /* 1. The skill's source, as a global script. */
    ret = JS_Eval(ctx, in.source, in.source_len, "skill.js", JS_EVAL_TYPE_GLOBAL);
    if (JS_IsException(ret) || !run_jobs()) {
        emit_exception();
        goto done;
    }
    JS_FreeValue(ctx, ret);
    ret = JS_UNDEFINED;

    /* 2. The entry: an identifier (checked by the host), evaluated as an
          expression so top-level let/const/class bindings resolve too. */
    size_t len;
    const char *text = JS_ToCStringLen(ctx, &len, in.entry);
    if (!text) {
        emit_exception();
        goto done;
    }
    fn = JS_Eval(ctx, text, len, "<entry>", JS_EVAL_TYPE_GLOBAL);
    if (!JS_IsException(fn) && !JS_IsFunction(ctx, fn))
        JS_ThrowTypeError(ctx, "entry '%s' is not a function", text);
    JS_FreeCString(ctx, text);
    if (JS_HasException(ctx)) {
        emit_exception();
        goto done;
    }

    /* 3. The call, then the job queue (async entries settle there). */
    if (JS_IsArray(in.args) && JS_GetLength(ctx, in.args, &argc) < 0) {
        emit_exception();
        goto done;
    }
    argv = calloc(argc ? (size_t)argc : 1, sizeof *argv);
    if (!argv) {
        Buf oom = {.oom = true};
        emit_result(&oom);
        goto done;
    }
    for (int64_t i = 0; i < argc; i++)
        argv[i] = JS_GetPropertyUint32(ctx, in.args, (uint32_t)i);
    ret = JS_Call(ctx, fn, JS_UNDEFINED, (int)argc, (JSValueConst *)argv);
    if (JS_IsException(ret) || !run_jobs()) {
        emit_exception();
        goto done;
    }

    /* 4. The result. */
    if (!JS_IsPromise(ret)) {
        emit_value(ret);
        goto done;
    }
    switch (JS_PromiseState(ctx, ret)) {
    case JS_PROMISE_FULFILLED: {
        JSValue v = JS_PromiseResult(ctx, ret);
        emit_value(v);
        JS_FreeValue(ctx, v);
        break;
    }
    case JS_PROMISE_REJECTED:
        emit_thrown(JS_PromiseResult(ctx, ret));
        break;
    default:
        JS_ThrowPlainError(ctx, "promise never settled");
        emit_exception();
        break;
    }

done:
    for (int64_t i = 0; argv && i < argc; i++)
        JS_FreeValue(ctx, argv[i]);
    free(argv);
    JS_FreeValue(ctx, ret);
    JS_FreeValue(ctx, fn);
    JS_FreeValue(ctx, in.entry);
    JS_FreeValue(ctx, in.args);
    free(in.text);
}

int main(void)
{
    if (!init_engine() || !begin_call()) {
        static const char msg[] =
            "{\"ok\":false,\"error\":{\"name\":\"DriverError\","
            "\"message\":\"cannot create the JavaScript runtime\",\"stack\":\"\"}}";
        sf_emit(EMIT_RESULT, msg, (int32_t)(sizeof msg - 1));
        return 0;
    }
    run_call();
    /* The runtime is not freed: the host drops the whole instance. */
    return 0;
}
