-- Athena / Glue table for an AWS Data Export of FOCUS 1.2 with AWS columns (table FOCUS_1_2_AWS), Parquet.
-- Replace YOUR-BUCKET, YOUR-PREFIX and the export name (cost-focus) with the export's S3 destination, then run the
-- statements in the Athena console's query editor in the cost-watchdog workgroup, one at a time:
--   CREATE DATABASE IF NOT EXISTS cost_exports;   then the CREATE EXTERNAL TABLE below.
--
-- Partition projection: billing_period (YYYY-MM) is computed from the query's WHERE clause, so no crawler and no
-- MSCK REPAIR are needed and a query reads only the billing periods it names
-- (WHERE billing_period IN ('2026-10', '2026-11')). Data Exports writes each period under
-- data/BILLING_PERIOD=YYYY-MM/; if your export's folders are spelled billing_period=YYYY-MM, change the template.
-- Use the export's "Overwrite" delivery (OVERWRITE_REPORT): with "Create new" every delivery stays in its own
-- sub-folder of the period and Athena would read (and sum) all of them.
-- ChargeCategory: Usage | Purchase | Tax | Credit | Adjustment. BilledCost ~ Cost Explorer UnblendedCost,
-- EffectiveCost ~ AmortizedCost. Tags is a map (Tags['team']); SubAccountId is the linked account.
-- These are FOCUS_1_2_AWS's 60 columns. FOCUS 1.0 exports (FOCUS_1_0_AWS) lack BillingAccountType,
-- CapacityReservation*, CommitmentDiscountQuantity/Unit, InvoiceId, PricingCurrency*, ServiceSubcategory, SkuMeter,
-- SkuPriceDetails, SubAccountType (they read as NULL: Parquet columns are matched by name) and have x_UsageType
-- string and x_CostCategories map<string,string>, which 1.2 dropped: add those two lines for a 1.0 export.
CREATE EXTERNAL TABLE IF NOT EXISTS `cost_exports`.`focus` (
  `AvailabilityZone`                    string,
  `BilledCost`                          double,
  `BillingAccountId`                    string,
  `BillingAccountName`                  string,
  `BillingAccountType`                  string,
  `BillingCurrency`                     string,
  `BillingPeriodEnd`                    timestamp,
  `BillingPeriodStart`                  timestamp,
  `CapacityReservationId`               string,
  `CapacityReservationStatus`           string,
  `ChargeCategory`                      string,
  `ChargeClass`                         string,
  `ChargeDescription`                   string,
  `ChargeFrequency`                     string,
  `ChargePeriodEnd`                     timestamp,
  `ChargePeriodStart`                   timestamp,
  `CommitmentDiscountCategory`          string,
  `CommitmentDiscountId`                string,
  `CommitmentDiscountName`              string,
  `CommitmentDiscountQuantity`          double,
  `CommitmentDiscountStatus`            string,
  `CommitmentDiscountType`              string,
  `CommitmentDiscountUnit`              string,
  `ConsumedQuantity`                    double,
  `ConsumedUnit`                        string,
  `ContractedCost`                      double,
  `ContractedUnitPrice`                 double,
  `EffectiveCost`                       double,
  `InvoiceId`                           string,
  `InvoiceIssuerName`                   string,
  `ListCost`                            double,
  `ListUnitPrice`                       double,
  `PricingCategory`                     string,
  `PricingCurrency`                     string,
  `PricingCurrencyContractedUnitPrice`  double,
  `PricingCurrencyEffectiveCost`        double,
  `PricingCurrencyListUnitPrice`        double,
  `PricingQuantity`                     double,
  `PricingUnit`                         string,
  `ProviderName`                        string,
  `PublisherName`                       string,
  `RegionId`                            string,
  `RegionName`                          string,
  `ResourceId`                          string,
  `ResourceName`                        string,
  `ResourceType`                        string,
  `ServiceCategory`                     string,
  `ServiceName`                         string,
  `ServiceSubcategory`                  string,
  `SkuId`                               string,
  `SkuMeter`                            string,
  `SkuPriceDetails`                     map<string,string>,
  `SkuPriceId`                          string,
  `SubAccountId`                        string,
  `SubAccountName`                      string,
  `SubAccountType`                      string,
  `Tags`                                map<string,string>,
  `x_Discounts`                         map<string,double>,
  `x_Operation`                         string,
  `x_ServiceCode`                       string
)
PARTITIONED BY (`billing_period` string)
STORED AS PARQUET
LOCATION 's3://YOUR-BUCKET/YOUR-PREFIX/cost-focus/data/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.billing_period.type' = 'date',
  'projection.billing_period.format' = 'yyyy-MM',
  'projection.billing_period.range' = '2024-01,NOW',
  'projection.billing_period.interval' = '1',
  'projection.billing_period.interval.unit' = 'MONTHS',
  'storage.location.template' = 's3://YOUR-BUCKET/YOUR-PREFIX/cost-focus/data/BILLING_PERIOD=${billing_period}/',
  'parquet.compression' = 'SNAPPY'
)
