// Where the Flux pieces are downloaded from (collect.sh); the controllers'
// build wrapper joins it when they run locally.
module github.com/cartorio-digital/cartorio-plataforma/toolchain/flux

go 1.26.0
