/* gnutls.c: uprobes for GnuTLS (libgnutls.so.30).  gnutls_record_send/recv
 * have SSL_write/SSL_read's shape and return ssize_t.
 * Attached by heron/capture/probes/gnutls.py. */
/* Included by heron.c (not compiled on its own). */

HERON_UPROBE(gnutls_send_enter) {
    return tls_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0, FN_GNUTLS_SEND, LIB_GNUTLS, 0);
}
HERON_UPROBE(gnutls_recv_enter) {
    return tls_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0, FN_GNUTLS_RECV, LIB_GNUTLS, 1);
}
HERON_UPROBE(gnutls_return) { return tls_return(ctx, 0); }
HERON_UPROBE(gnutls_deinit_enter) {
    return tls_forget(PT_REGS_PARM1(ctx), CLOSE_SSL_FREE);
}
/* gnutls_server_name_set(session, type, name, len) */
HERON_UPROBE(gnutls_sni_enter) {
    return emit_sni(PT_REGS_PARM1(ctx), (const void *)PT_REGS_PARM3(ctx));
}
