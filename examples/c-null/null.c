/*
 * The null transform in C: passes request and response bodies through
 * unchanged, sharing the input's blocks (no byte is copied), with the
 * input's length announced so the client keeps its Content-Length.
 *
 * The same steps as Traffic Server's null_transform.c and plugins/null (the
 * Rust reference), against plugin_host.h. Arguments: none (both
 * directions), `request` or `response` (only that one).
 *
 *   cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -I plugin-sdk/include \
 *      examples/c-null/null.c -o libc_null.so
 */
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"

#define NAME "c-null"

/* Plugin-global state: which bodies to transform. Read-only after init,
 * so every worker thread may read it at once. */
struct null_plugin {
  int request, response;
};

/* One transform instance: the write VIO on our output, 0 until started. */
struct null_transform {
  PH_Handle output_vio;
};

static int arg_is(PH_ByteSlice arg, const char *word) {
  return arg.len == strlen(word) && memcmp(arg.ptr, word, arg.len) == 0;
}

static void error_out(PH_ErrorBuf err, const char *msg) {
  size_t n = strlen(msg);
  if (!err.ptr || !err.len) return;
  if (n > err.cap) n = err.cap;
  memcpy(err.ptr, msg, n);
  *err.len = n;
}

static int32_t null_init(const PH_HostTable *host, const PH_ByteSlice *args, size_t nargs, void **state_out,
                         PH_ErrorBuf err) {
  struct null_plugin *p;
  size_t i;
  if (host->size < sizeof(PH_HostTable)) {
    error_out(err, "the host is older than this plugin's plugin_host.h: rebuild against the host's header");
    return PH_STATUS_ERROR;
  }
  p = calloc(1, sizeof *p);
  if (!p) return PH_STATUS_ERROR;
  p->request = p->response = nargs == 0;
  for (i = 0; i < nargs; i++) {
    if (arg_is(args[i], "request")) {
      p->request = 1;
    } else if (arg_is(args[i], "response")) {
      p->response = 1;
    } else {
      free(p);
      error_out(err, "unknown argument: c-null takes no arguments (both directions), `request` or `response`");
      return PH_STATUS_ERROR;
    }
  }
  *state_out = p;
  return PH_STATUS_OK;
}

static int32_t null_fini(void *state) {
  free(state);
  return PH_STATUS_OK;
}

/* Adds a transform in `dir` if the message has a body (else it would never run). */
static void add_transform(const PH_HostTable *host, PH_TxnCtx *txn, uint32_t msg, uint32_t dir) {
  int64_t len;
  struct null_transform *t;
  int32_t body = host->txn_body(txn, msg, &len);
  if (body != PH_BODY_LENGTH && body != PH_BODY_UNKNOWN) return;
  t = calloc(1, sizeof *t);
  /* Accepted: the host owns it and gives it back to null_destroy. Refused: still ours. */
  if (t && host->txn_add_transform(txn, dir, t) != PH_STATUS_OK) free(t);
}

static int32_t null_hook(const PH_HostTable *host, void *state, uint32_t hook, PH_TxnCtx *txn) {
  const struct null_plugin *p = state;
  if (hook == PH_HOOK_ID_READ_REQUEST_HEADERS && p->request)
    add_transform(host, txn, PH_MESSAGE_REQUEST, PH_DIRECTION_REQUEST);
  if (hook == PH_HOOK_ID_READ_RESPONSE_HEADERS && p->response)
    add_transform(host, txn, PH_MESSAGE_RESPONSE, PH_DIRECTION_RESPONSE);
  return PH_STATUS_OK;
}

/* Only the hooks of the directions it transforms: the host skips the others. */
static uint32_t null_hooks_wanted(void *state) {
  const struct null_plugin *p = state;
  uint32_t hooks = 0;
  if (p->request) hooks |= 1u << PH_HOOK_ID_READ_REQUEST_HEADERS;
  if (p->response) hooks |= 1u << PH_HOOK_ID_READ_RESPONSE_HEADERS;
  return hooks;
}

/* WRITE_READY, or IMMEDIATE after a reenable: move what the input has. */
static void handle_transform(const PH_HostTable *host, PH_IoCtx *io, struct null_transform *t, PH_Handle self) {
  PH_Handle input = host->vconn_write_vio(io, self), out_buffer, in_reader;
  int64_t towrite, avail;
  if (!input) return; /* the upstream has not started writing into us */

  /* First event: create the output buffer and start writing downstream,
   * announcing the input's length (INT64_MAX when unknown). */
  if (!t->output_vio) {
    PH_Handle buffer = host->buffer_create(io);
    PH_Handle reader = host->reader_alloc(io, buffer);
    t->output_vio = host->vconn_write(io, host->transform_output_vconn(io), reader, host->vio_nbytes_get(io, input));
  }
  out_buffer = host->vio_buffer(io, t->output_vio);
  if (!out_buffer) return; /* our output was shut down: nobody wants more */

  /* No reader: the upstream shut its write down; what we passed is all. */
  in_reader = host->vio_reader(io, input);
  if (!in_reader) {
    host->vio_nbytes_set(io, t->output_vio, host->vio_ndone_get(io, input));
    host->vio_reenable(io, t->output_vio);
    return;
  }

  /* Pass what is there (no more than the input still expects): share the
   * blocks, consume them from the input, and account for them. */
  towrite = host->vio_ntodo(io, input);
  avail = host->reader_avail(io, in_reader);
  if (towrite > avail) towrite = avail;
  if (towrite > 0) {
    host->buffer_copy(io, out_buffer, in_reader, towrite, 0);
    host->reader_consume(io, in_reader, towrite);
    host->vio_ndone_set(io, input, host->vio_ndone_get(io, input) + towrite);
  }

  if (host->vio_ntodo(io, input) > 0) {
    if (towrite > 0) { /* wake the output, and ask the upstream for more */
      host->vio_reenable(io, t->output_vio);
      host->vio_cont_call(io, input, PH_EVENT_CODE_VCONN_WRITE_READY);
    }
  } else { /* all input passed: final length out, wake it, tell the upstream */
    host->vio_nbytes_set(io, t->output_vio, host->vio_ndone_get(io, input));
    host->vio_reenable(io, t->output_vio);
    host->vio_cont_call(io, input, PH_EVENT_CODE_VCONN_WRITE_COMPLETE);
  }
}

static int32_t null_event(const PH_HostTable *host, void *instance, PH_IoCtx *io, uint32_t event, PH_Handle vio) {
  PH_Handle self = host->transform_self(io), input;
  (void)vio;
  /* Once closed, the host destroys us as soon as we return. */
  if (host->vconn_closed(io, self) != PH_CLOSED_OPEN) return PH_STATUS_OK;
  switch (event) {
  case PH_EVENT_CODE_ERROR: /* pass errors to whoever writes into us */
    input = host->vconn_write_vio(io, self);
    if (input) host->vio_cont_call(io, input, PH_EVENT_CODE_ERROR);
    break;
  case PH_EVENT_CODE_VCONN_WRITE_COMPLETE: /* the output took every byte: stop hearing about it */
    host->vconn_shutdown(io, host->transform_output_vconn(io), 0, 1);
    break;
  default:
    handle_transform(host, io, instance, self);
  }
  return PH_STATUS_OK;
}

/* The host destroys the buffer we created with the transform. */
static int32_t null_destroy(void *instance) {
  free(instance);
  return PH_STATUS_OK;
}

/* C has no panics to report, no per-transaction state, no counters. */
static int32_t null_panic_message(PH_ErrorBuf out) {
  (void)out;
  return 0;
}

static int32_t null_state_drop(void *state) {
  (void)state;
  return PH_STATUS_OK;
}

static int32_t null_counter_at(void *state, size_t index, PH_ByteSlice *name, uint64_t *value) {
  (void)state, (void)index, (void)name, (void)value;
  return 0;
}

static const PH_PluginTable TABLE = {
    .size = sizeof(PH_PluginTable),
    .init = null_init,
    .fini = null_fini,
    .hook = null_hook,
    .transform_event = null_event,
    .transform_destroy = null_destroy,
    .panic_message = null_panic_message,
    .txn_state_drop = null_state_drop,
    .counter_at = null_counter_at,
    .hooks_wanted = null_hooks_wanted,
};

static const PH_PluginModule MODULE = {
    .size = sizeof(PH_PluginModule),
    .abi_major = PH_ABI_MAJOR,
    .abi_minor = PH_ABI_MINOR,
    .panic_unwind = 1, /* C cannot panic; a crash here is the process's */
    .name = {(const uint8_t *)NAME, sizeof NAME - 1},
    .sdk_version = {(const uint8_t *)"c", 1},
    .layout = NULL, /* a C plugin: checked by ABI version and table sizes */
    .table = &TABLE,
};

const PH_PluginModule *plugin_host_module(void) {
  return &MODULE;
}
