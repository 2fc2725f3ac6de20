"""Dagster definitions for Slack: the capture asset (events journal -> ledger, names, vectors, links to CLI
sessions), the Slack Conversations database, and the sensor that runs them when events are waiting."""

import dagster as dg

from ssot_pipelines.assets.notion_sync import notion_sync_asset
from ssot_pipelines.ledger import connect
from ssot_pipelines.resources.stores import PostgresResource
from ssot_pipelines.resources.vectors import EmbedderResource, VectorsResource
from ssot_pipelines.slack.capture import drain
from ssot_pipelines.slack.pipeline import capture_pass
from ssot_pipelines.slack.records import extract_slack_conversations
from ssot_pipelines.slack.sensors import JOB, slack_events_sensor


@dg.asset(
    name="slack_conversation_events",
    group_name="slack",
    kinds={"postgres", "slack"},
    description="Events API journal committed to the ledger (de-duplicated by event_id), people's names "
    "resolved through users.info, conversations embedded, and links to CLI sessions found.",
)
def slack_conversation_events(
    context: dg.AssetExecutionContext,
    postgres: PostgresResource,
    vectors: VectorsResource,
    embedder: EmbedderResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    conn = postgres.connect()
    cache = connect(postgres.resolved_url(), autocommit=True)  # the embedding cache's rows are durable at once
    try:
        report = drain(conn)
        lines = [report.summary(), *capture_pass(conn, vectors=(vectors.store(), embedder.embedder(cache)))]
    finally:
        cache.close()
        conn.close()
    for line in lines:
        context.log.info(line)
    return dg.MaterializeResult(
        metadata={
            "journal_records": report.records,
            "new_events": report.new_events,
            "repeats": report.duplicates,
            "conversations_new": report.conversations_new,
            "conversations_changed": report.conversations_changed,
            "stages": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines)),
        }
    )


slack_conversations = notion_sync_asset(
    "slack_conversations",
    extract_slack_conversations,
    deps=["slack_conversation_events"],
    description="One page per Slack conversation (a thread, or a channel's day): every message in order in the "
    "body; Channel, Participants, Message Count, Started At and the related CLI sessions with evidence.",
)

slack_job = dg.define_asset_job(
    JOB,
    selection=dg.AssetSelection.assets(slack_conversation_events, slack_conversations),
    description="Drain Slack events into the ledger and sync the Slack Conversations database.",
)


defs = dg.Definitions(
    assets=[slack_conversation_events, slack_conversations], jobs=[slack_job], sensors=[slack_events_sensor]
)
