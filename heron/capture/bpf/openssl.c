/* openssl.c: uprobes for OpenSSL 1.1 / 3.x (libssl.so*, and executables that
 * export the SSL_* symbols themselves, like /usr/bin/node).
 * Attached by heron/capture/probes/openssl.py. */
/* Included by heron.c (not compiled on its own). */

HERON_UPROBE(ossl_write_enter) {
    return tls_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0, FN_SSL_WRITE, LIB_OPENSSL, 0);
}
HERON_UPROBE(ossl_read_enter) {
    return tls_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), 0, FN_SSL_READ, LIB_OPENSSL, 1);
}
/* SSL_write_ex(ssl, buf, num, size_t *written) / SSL_read_ex(..., size_t *readbytes) */
HERON_UPROBE(ossl_write_ex_enter) {
    return tls_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM4(ctx), FN_SSL_WRITE_EX,
                     LIB_OPENSSL, 0);
}
HERON_UPROBE(ossl_read_ex_enter) {
    return tls_enter(PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM4(ctx), FN_SSL_READ_EX,
                     LIB_OPENSSL, 1);
}
HERON_UPROBE(ossl_return) { return tls_return(ctx, 0); }
HERON_UPROBE(ossl_return_ex) { return tls_return(ctx, 1); }

HERON_UPROBE(ossl_free_enter) { return tls_forget(PT_REGS_PARM1(ctx), CLOSE_SSL_FREE); }

/* A fresh SSL* may reuse freed memory whose SSL_free we did not see. */
HERON_UPROBE(ossl_new_return) {
    u64 ssl = PT_REGS_RC(ctx);
    if (ssl)
        tls_forget(ssl, CLOSE_SSL_NEW);
    return 0;
}

/* SSL_set_tlsext_host_name() is SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME=55, 0, name). */
HERON_UPROBE(ossl_ctrl_enter) {
    if ((int)PT_REGS_PARM2(ctx) != 55)
        return 0;
    return emit_sni(PT_REGS_PARM1(ctx), (const void *)PT_REGS_PARM4(ctx));
}
