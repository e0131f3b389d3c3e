"""Records and how they reach the table: the record rules (`records`), JSON Lines read in blocks
(`line_blocks`) and checked in bulk (`json_lines`), PutRecordBatch batching (`firehose`), what both
delivery streams share (`stream`: rejections, the error output, the delivery figures) and the
producer library (`producer`). Nothing is imported here: the producer Lambda loads `records` and
`firehose` alone."""
