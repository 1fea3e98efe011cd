"""Pure statistics over plain arrays and dataframes: no store, Kafka or clock."""
