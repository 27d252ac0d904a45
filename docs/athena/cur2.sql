-- Athena / Glue table for an AWS Data Export of CUR 2.0 (table COST_AND_USAGE_REPORT), Parquet.
-- Replace YOUR-BUCKET, YOUR-PREFIX and the export name (cost-cur2) with the export's S3 destination, then run the
-- statements in the Athena console's query editor in the cost-watchdog workgroup, one at a time:
--   CREATE DATABASE IF NOT EXISTS cost_exports;   then the CREATE EXTERNAL TABLE below.
--
-- Partition projection: billing_period (YYYY-MM) is computed from the query's WHERE clause, so no crawler and no
-- MSCK REPAIR are needed and a query reads only the billing periods it names
-- (WHERE billing_period IN ('2026-10', '2026-11')). Data Exports writes each period under
-- data/BILLING_PERIOD=YYYY-MM/; if your export's folders are spelled billing_period=YYYY-MM, change the template.
-- Use the export's "Overwrite" delivery (OVERWRITE_REPORT): with "Create new" every delivery stays in its own
-- sub-folder of the period and Athena would read (and sum) all of them.
-- line_item_line_item_type: Usage | Tax | Credit | Refund | Fee | RIFee | DiscountedUsage | SavingsPlanCoveredUsage |
-- SavingsPlanNegation | SavingsPlanRecurringFee | SavingsPlanUpfrontFee | BundledDiscount | EdpDiscount ...
-- line_item_unblended_cost ~ UnblendedCost; line_item_net_unblended_cost ~ NetUnblendedCost. resource_tags is a map
-- keyed user_<tag> (resource_tags['user_team']); product is a map (product['product_name']).
-- CUR 2.0 has about 125 columns; this table lists the ones the watchdog reads and their neighbours. Add others
-- from the CUR 2.0 table dictionary as needed (Parquet columns are matched by name; unlisted ones are ignored).
CREATE EXTERNAL TABLE IF NOT EXISTS `cost_exports`.`cur2` (
  `bill_bill_type`                                               string,
  `bill_billing_entity`                                          string,
  `bill_billing_period_end_date`                                 timestamp,
  `bill_billing_period_start_date`                               timestamp,
  `bill_invoice_id`                                              string,
  `bill_invoicing_entity`                                        string,
  `bill_payer_account_id`                                        string,
  `bill_payer_account_name`                                      string,
  `cost_category`                                                map<string,string>,
  `discount`                                                     map<string,double>,
  `identity_line_item_id`                                        string,
  `identity_time_interval`                                       string,
  `line_item_availability_zone`                                  string,
  `line_item_currency_code`                                      string,
  `line_item_legal_entity`                                       string,
  `line_item_line_item_description`                              string,
  `line_item_line_item_type`                                     string,
  `line_item_net_unblended_cost`                                 double,
  `line_item_operation`                                          string,
  `line_item_product_code`                                       string,
  `line_item_resource_id`                                        string,
  `line_item_unblended_cost`                                     double,
  `line_item_unblended_rate`                                     string,
  `line_item_usage_account_id`                                   string,
  `line_item_usage_account_name`                                 string,
  `line_item_usage_amount`                                       double,
  `line_item_usage_end_date`                                     timestamp,
  `line_item_usage_start_date`                                   timestamp,
  `line_item_usage_type`                                         string,
  `pricing_public_on_demand_cost`                                double,
  `pricing_term`                                                 string,
  `pricing_unit`                                                 string,
  `product`                                                      map<string,string>,
  `product_product_family`                                       string,
  `product_region_code`                                          string,
  `product_servicecode`                                          string,
  `product_sku`                                                  string,
  `reservation_effective_cost`                                   double,
  `reservation_reservation_a_r_n`                                string,
  `reservation_unused_amortized_upfront_fee_for_billing_period`  double,
  `reservation_unused_recurring_fee`                             double,
  `resource_tags`                                                map<string,string>,
  `savings_plan_savings_plan_a_r_n`                              string,
  `savings_plan_savings_plan_effective_cost`                     double,
  `savings_plan_total_commitment_to_date`                        double,
  `savings_plan_used_commitment`                                 double
)
PARTITIONED BY (`billing_period` string)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/YOUR-PREFIX/cost-cur2/data/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.billing_period.type' = 'date',
  'projection.billing_period.format' = 'yyyy-MM',
  'projection.billing_period.range' = '2024-01,NOW',
  'projection.billing_period.interval' = '1',
  'projection.billing_period.interval.unit' = 'MONTHS',
  'storage.location.template' = 's3://YOUR-BUCKET/YOUR-PREFIX/cost-cur2/data/BILLING_PERIOD=${billing_period}/',
  'parquet.compression' = 'SNAPPY'
)
