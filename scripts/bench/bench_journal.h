/* What the benchmark programs that write journals share: putting a
 * relation's schema and a row change of its version 1. */
#ifndef TM_BENCH_JOURNAL_H
#define TM_BENCH_JOURNAL_H

#include "store/journal/journal.h"

/* Puts a change op of relation oid (version 1) with the old tuple (its
 * kind 'O'; NULL: none) and the new one (NULL: none). */
static inline int bench_put_change(tm_writer *w, int op, uint32_t oid, Tidemark__Tuple *old,
                                   Tidemark__Tuple *nw, tm_error *err)
{
    Tidemark__Change ch = TIDEMARK__CHANGE__INIT;
    ch.has_op = ch.has_relation_oid = ch.has_relation_version = 1;
    ch.op = op;
    ch.relation_oid = oid;
    ch.relation_version = 1;
    if (old) {
        ch.has_old_kind = 1;
        ch.old_kind = 'O';
        ch.old_tuple = old;
    }
    ch.new_tuple = nw;
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_CHANGE;
    rec.change = &ch;
    return tm_writer_put(w, &rec, err);
}

/* Puts rel as a standalone Relation record. */
static inline int bench_put_relation(tm_writer *w, Tidemark__Relation *rel, tm_error *err)
{
    Tidemark__Record rec = TIDEMARK__RECORD__INIT;
    rec.body_case = TIDEMARK__RECORD__BODY_RELATION;
    rec.relation = rel;
    return tm_writer_put_standalone(w, &rec, err);
}

#endif
