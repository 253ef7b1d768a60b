/* SimGrid XML files through libxml2 (sgxml.h). */
#include "sgxml.h"

#include <errno.h>
#include <libxml/parser.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bg_xml_load(const char *path, const char *what, unsigned long long max_bytes, char **buf, size_t *len,
                bg_err_t *err)
{
    *buf = NULL;
    *len = 0;
    int fd, rc = bg_open_regular(path, what, max_bytes, &fd, err);
    if (rc)
        return rc;
    struct stat st;
    if (fstat(fd, &st)) {
        rc = bg_err_set(err, BG_EIO, path, 0, "cannot read the %s: %s", what, strerror(errno));
        close(fd);
        return rc;
    }
    const size_t cap = (size_t)st.st_size;
    char *b = malloc(cap + 1);
    if (!b) {
        close(fd);
        return bg_err_set(err, BG_ENOMEM, path, 0, "out of memory reading the %s", what);
    }
    size_t got = 0;
    for (ssize_t k; got < cap && (k = read(fd, b + got, cap - got)) != 0;) {
        if (k < 0) {
            if (errno == EINTR)
                continue;
            rc = bg_err_set(err, BG_EIO, path, 0, "cannot read the %s: %s", what, strerror(errno));
            free(b);
            close(fd);
            return rc;
        }
        got += (size_t)k;
    }
    close(fd);
    b[got] = '\0';
    *buf = b;
    *len = got;
    return BG_OK;
}

void bg_xml_shown(const char *s, char *buf, size_t len)
{
    size_t k = 0;
    for (; s && *s && k + 4 < len; s++)
        buf[k++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    if (s && *s && len > 4)
        memcpy(buf + k, "...", 3), k += 3;
    buf[k < len ? k : len - 1] = '\0';
}

static void on_error(void *data, xmlErrorPtr e)
{
    bg_xml_errors_t *f = data;
    if (f->set || !e || e->level == XML_ERR_WARNING)
        return;
    f->set = 1;
    f->line = e->line;
    if (!f->line && e->node && ((xmlNodePtr)e->node)->type == XML_ELEMENT_NODE)
        f->line = xmlGetLineNo((xmlNodePtr)e->node);
    bg_xml_shown(e->message ? e->message : "unknown error", f->msg, sizeof f->msg);
    for (size_t l = strlen(f->msg); l && (f->msg[l - 1] == '?' || f->msg[l - 1] == ' '); l--)
        f->msg[l - 1] = '\0';   /* the trailing newline, shown as '?' */
}

void bg_xml_capture(bg_xml_errors_t *e)
{
    memset(e, 0, sizeof *e);
    xmlSetStructuredErrorFunc(e, on_error);
}

void bg_xml_release(void)
{
    xmlSetStructuredErrorFunc(NULL, NULL);
}

/* The 1-based line of offset off in buf. */
static long line_of(const char *buf, size_t off)
{
    long line = 1;
    for (size_t i = 0; i < off; i++)
        line += buf[i] == '\n';
    return line;
}

int bg_xml_read(const char *buf, size_t len, const char *name, const char *what, bg_xml_errors_t *errors,
                xmlDocPtr *doc, bg_err_t *err)
{
    *doc = NULL;
    if (!len)
        return bg_err_set(err, BG_EFORMAT, name, 0, "empty file: not a SimGrid %s XML", what);
    if (len > (size_t)0x7fffffff)
        return bg_err_set(err, BG_EFORMAT, name, 0, "too large to be a SimGrid %s", what);
    const char *nul = memchr(buf, '\0', len);
    if (nul)
        return bg_err_set(err, BG_EFORMAT, name, line_of(buf, (size_t)(nul - buf)), "a NUL byte: not a SimGrid %s XML",
                          what);
    for (size_t i = 0; i + 8 <= len; i++)
        if (buf[i] == '<' && !memcmp(buf + i, "<!ENTITY", 8))
            return bg_err_set(err, BG_EFORMAT, name, line_of(buf, i),
                              "<!ENTITY>: entity declarations are not allowed in a SimGrid %s", what);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return bg_err_set(err, BG_ENOMEM, name, 0, "out of memory parsing the %s", what);
    xmlDocPtr d = xmlCtxtReadMemory(ctxt, buf, (int)len, name, NULL, XML_PARSE_NONET | XML_PARSE_BIG_LINES);
    xmlFreeParserCtxt(ctxt);
    int rc = BG_OK;
    xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL;
    if (!d || errors->set) {
        rc = bg_err_set(err, BG_EFORMAT, name, errors->set ? errors->line : 0, "not well-formed XML: %s",
                        errors->set ? errors->msg : "unreadable");
    } else if (!root || strcmp((const char *)root->name, "platform")) {
        rc = bg_err_set(err, BG_EFORMAT, name, root ? xmlGetLineNo(root) : 0,
                        "the root element must be <platform>, not <%.40s>", root ? (const char *)root->name : "");
    } else {
        /* SimGrid 3.32's parser needs this DOCTYPE line, with one of these two system ids and nothing else. */
        xmlDtdPtr own = d->intSubset;
        if (!(own && own->name && !strcmp((const char *)own->name, "platform") && !own->ExternalID && own->SystemID &&
              !own->children &&
              (!strcmp((const char *)own->SystemID, "https://simgrid.org/simgrid.dtd") ||
               !strcmp((const char *)own->SystemID, "http://simgrid.gforge.inria.fr/simgrid/simgrid.dtd"))))
            rc = bg_err_set(err, BG_EFORMAT, name, xmlGetLineNo(root),
                            "<platform>: SimGrid 3.32 needs the line <!DOCTYPE platform SYSTEM "
                            "\"https://simgrid.org/simgrid.dtd\"> before it, and no internal DTD subset");
    }
    if (rc)
        xmlFreeDoc(d);
    else
        *doc = d;
    return rc;
}

int bg_xml_version_ok(xmlNodePtr root)
{
    char *ver = (char *)xmlGetProp(root, (const xmlChar *)"version"), *end = NULL;
    const double vn = ver ? strtod(ver, &end) : NAN;
    const int ok = ver && end != ver && !*end && isfinite(vn) && lround(100 * vn) >= 400 && lround(100 * vn) <= 410;
    xmlFree(ver);
    return ok;
}
