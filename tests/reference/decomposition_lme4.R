# Reference variance components for tests/experiment/test_decomposition.py: REML fits of the
# fully crossed persona x context x seed random-effects model by lme4, on the scores of
# decomposition_fixture.csv (make_decomposition_fixture.py). For a balanced design REML equals
# the ANOVA (expected mean squares) estimates whenever none of those is negative.
#
#   apt-get install r-cran-lme4
#   Rscript tests/reference/decomposition_lme4.R   # writes decomposition_lme4.csv
suppressPackageStartupMessages(library(lme4))
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
d <- read.csv(file.path(here, "decomposition_fixture.csv"), colClasses = c(persona = "factor",
              chunk = "factor", seed = "factor"))
ctrl <- lmerControl(check.conv.singular = "ignore", optimizer = "bobyqa",
                    optCtrl = list(maxfun = 1e5))
out <- NULL
for (s in unique(d$set)) {
  fit <- lmer(y ~ 1 + (1 | persona) + (1 | chunk) + (1 | seed) + (1 | persona:chunk) +
                (1 | persona:seed) + (1 | chunk:seed), data = d[d$set == s, ], REML = TRUE,
              control = ctrl)
  vc <- as.data.frame(VarCorr(fit))
  out <- rbind(out, data.frame(set = s, effect = vc$grp, variance = vc$vcov))
}
out$effect <- c(persona = "persona", chunk = "context", seed = "seed",
                `persona:chunk` = "persona:context", `persona:seed` = "persona:seed",
                `chunk:seed` = "context:seed", Residual = "persona:context:seed")[out$effect]
write.csv(out, file.path(here, "decomposition_lme4.csv"), row.names = FALSE)
cat(sprintf("lme4 %s: wrote %d components\n", packageVersion("lme4"), nrow(out)))
