"""Records and how they reach the table: the record rules (`records`), the vectorized check of blocks
of JSON Lines (`json_lines`), PutRecordBatch batching (`firehose`) and the producer library
(`producer`). Nothing is imported here: the producer Lambda loads `records` and `firehose` alone."""
