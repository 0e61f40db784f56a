/*
 * A null response transform for Apache Traffic Server, the peer of
 * plugin-host's null plugin in the benchmark: every 200 response body is
 * copied through one transform vconnection unchanged.
 *
 * It makes the same calls, in the same order, as Traffic Server's
 * example/plugins/c-api/null_transform, so the benchmark measures the
 * cost of the VIO protocol itself and not of a cleverer plugin.
 *
 * Build: tsxs -o null_transform.so -c null_transform.c
 */

#include <stdint.h>

#include "ts/ts.h"

#define PLUGIN_NAME "bench_null_transform"

/* Per-transform state: the VIO we write into the next vconnection. */
typedef struct {
  TSVIO out_vio;
  TSIOBuffer out_buf;
  TSIOBufferReader out_reader;
} NullState;

static void
state_free(NullState *st)
{
  if (st == NULL) {
    return;
  }
  if (st->out_buf != NULL) {
    TSIOBufferDestroy(st->out_buf);
  }
  TSfree(st);
}

/* Move what the upstream wrote into our output buffer. */
static void
pump(TSCont contp)
{
  TSVIO in_vio     = TSVConnWriteVIOGet(contp);
  NullState *st    = TSContDataGet(contp);
  int64_t todo     = 0;
  int64_t moved    = 0;
  TSVConn out_conn = TSTransformOutputVConnGet(contp);

  if (st == NULL) {
    /* First call: open the downstream write with an unknown length; the
     * real length is set once the input is finished. */
    st             = TSmalloc(sizeof(NullState));
    st->out_buf    = TSIOBufferCreate();
    st->out_reader = TSIOBufferReaderAlloc(st->out_buf);
    st->out_vio    = TSVConnWrite(out_conn, contp, st->out_reader, INT64_MAX);
    TSContDataSet(contp, st);
  }

  /* A NULL buffer means the upstream shut the write down: no more data is
   * coming, so whatever was done is the whole body. */
  if (TSVIOBufferGet(in_vio) == NULL) {
    TSVIONBytesSet(st->out_vio, TSVIONDoneGet(in_vio));
    TSVIOReenable(st->out_vio);
    return;
  }

  todo = TSVIONTodoGet(in_vio);
  if (todo > 0) {
    TSIOBufferReader in_reader = TSVIOReaderGet(in_vio);
    int64_t avail              = TSIOBufferReaderAvail(in_reader);

    moved = todo < avail ? todo : avail;
    if (moved > 0) {
      /* Block-sharing copy, then consume and account for it upstream. */
      TSIOBufferCopy(TSVIOBufferGet(st->out_vio), in_reader, moved, 0);
      TSIOBufferReaderConsume(in_reader, moved);
      TSVIONDoneSet(in_vio, TSVIONDoneGet(in_vio) + moved);
    }
  }

  if (TSVIONTodoGet(in_vio) > 0) {
    if (moved > 0) {
      /* Wake the downstream for the new bytes, and ask for more. */
      TSVIOReenable(st->out_vio);
      TSContCall(TSVIOContGet(in_vio), TS_EVENT_VCONN_WRITE_READY, in_vio);
    }
  } else {
    /* Input complete: fix the output length so the downstream can finish. */
    TSVIONBytesSet(st->out_vio, TSVIONDoneGet(in_vio));
    TSVIOReenable(st->out_vio);
    TSContCall(TSVIOContGet(in_vio), TS_EVENT_VCONN_WRITE_COMPLETE, in_vio);
  }
}

static int
on_transform_event(TSCont contp, TSEvent event, void *edata)
{
  (void)edata;

  if (TSVConnClosedGet(contp)) {
    /* The transaction closed us: release state; no event may follow. */
    state_free(TSContDataGet(contp));
    TSContDestroy(contp);
    return 0;
  }

  switch (event) {
  case TS_EVENT_ERROR: {
    TSVIO in_vio = TSVConnWriteVIOGet(contp);
    TSContCall(TSVIOContGet(in_vio), TS_EVENT_ERROR, in_vio);
    break;
  }
  case TS_EVENT_VCONN_WRITE_COMPLETE:
    /* The downstream has everything: we want no more events from it. */
    TSVConnShutdown(TSTransformOutputVConnGet(contp), 0, 1);
    break;
  default:
    /* WRITE_READY, IMMEDIATE from a reenable, and the rest: try to move data. */
    pump(contp);
    break;
  }
  return 0;
}

static int
response_is_200(TSHttpTxn txnp)
{
  TSMBuffer bufp;
  TSMLoc hdr;
  int ok = 0;

  if (TSHttpTxnServerRespGet(txnp, &bufp, &hdr) == TS_SUCCESS) {
    ok = TSHttpHdrStatusGet(bufp, hdr) == TS_HTTP_STATUS_OK;
    TSHandleMLocRelease(bufp, TS_NULL_MLOC, hdr);
  }
  return ok;
}

static int
on_txn_event(TSCont contp, TSEvent event, void *edata)
{
  TSHttpTxn txnp = (TSHttpTxn)edata;

  (void)contp;
  if (event == TS_EVENT_HTTP_READ_RESPONSE_HDR && response_is_200(txnp)) {
    TSVConn xform = TSTransformCreate(on_transform_event, txnp);
    TSHttpTxnHookAdd(txnp, TS_HTTP_RESPONSE_TRANSFORM_HOOK, xform);
  }
  TSHttpTxnReenable(txnp, TS_EVENT_HTTP_CONTINUE);
  return 0;
}

void
TSPluginInit(int argc, const char *argv[])
{
  TSPluginRegistrationInfo info;

  (void)argc;
  (void)argv;
  info.plugin_name   = PLUGIN_NAME;
  info.vendor_name   = "plugin-host bench";
  info.support_email = "none";

  if (TSPluginRegister(&info) != TS_SUCCESS) {
    TSError("[%s] registration failed; transform disabled", PLUGIN_NAME);
    return;
  }
  TSHttpHookAdd(TS_HTTP_READ_RESPONSE_HDR_HOOK, TSContCreate(on_txn_event, NULL));
}
