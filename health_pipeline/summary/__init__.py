"""The daily summary: a day's UTC window, its query and the rows kept between the summary and its
export (`days`), and the exported CSV's bytes (`csv_format`)."""
