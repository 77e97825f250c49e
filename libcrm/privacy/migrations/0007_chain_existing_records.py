"""Seal the audit records written before the chain existed, oldest first, into one chain."""

from django.db import migrations


def chain_existing(apps, schema_editor):
    from libcrm.privacy import chain, checkpoint
    from libcrm.privacy.keys import audit_chain_key

    AuditEvent = apps.get_model("privacy", "AuditEvent")
    if not AuditEvent.objects.exists():
        return
    key = audit_chain_key()
    seq, prev_hash = 0, chain.GENESIS
    batch = []
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        seq += 1
        event.seq = seq
        event.prev_hash = prev_hash
        event.patron_digest = chain.digest(key, "patron_key", event.patron_key)
        event.target_digest = chain.digest(key, "target", event.target)
        event.hash = chain.seal(
            key,
            chain.ChainRecord(
                seq=seq,
                at=event.at,
                actor_label=event.actor_label,
                via=event.via,
                action=event.action,
                patron_digest=event.patron_digest,
                target_digest=event.target_digest,
                ip=str(event.ip) if event.ip is not None else None,
                detail=event.detail,
                prev_hash=prev_hash,
            ),
        )
        prev_hash = event.hash
        batch.append(event)
        if len(batch) >= 2000:
            _save(AuditEvent, batch)
            batch = []
    _save(AuditEvent, batch)
    checkpoint.advance(chain.Checkpoint(seq, prev_hash))


def _save(model, batch):
    model.objects.bulk_update(
        batch, ["seq", "prev_hash", "patron_digest", "target_digest", "hash"], batch_size=500
    )


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0006_audit_chain"),
    ]

    operations = [
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
    ]
