// Package scan lists the AWS actions a Go package calls, read from its
// source, and which features of a configuration each one serves. It is what
// keeps `ohfp iam-policy` and the code from drifting: the policy grants the
// list this package finds (go generate ./internal/iampolicy), and a test
// fails when the checked-in list is stale.
//
// A call is found wherever the code names an operation's input type
// (ec2.RunInstancesInput) or paginator (ec2.NewDescribeInstancesPaginator)
// of an aws-sdk-go-v2 service package. DynamoDB's TransactWriteItems is no
// IAM action: each item is authorized as PutItem, UpdateItem, DeleteItem or
// ConditionCheckItem, so those are listed from the items the code builds.
//
// Features come from directives. A function whose doc comment has the line
//
//	//ohfp:iam EC2Fleet
//
// serves only that feature (several may be named), and so does everything
// it calls that nothing else calls. Exported functions, and those that no
// annotated function reaches, serve the package's default feature. Calls are resolved by name
// within the package, which can only widen what a feature needs.
package scan

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Directive marks a function with the features its AWS calls serve.
const Directive = "//ohfp:iam "

const sdkServices = "github.com/aws/aws-sdk-go-v2/service/"

// transactItemActions are the IAM actions of a TransactWriteItem's members.
var transactItemActions = map[string]string{
	"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
}

// notActions are operations that IAM authorizes through other actions.
var notActions = map[string]bool{"dynamodb:TransactWriteItems": true, "dynamodb:TransactGetItems": true}

// impliedActions are what IAM checks for an operation that is not an action.
var impliedActions = map[string]string{"dynamodb:TransactGetItems": "dynamodb:GetItem"}

// All scans each package folder under root (relative path -> default
// feature) and merges what they call.
func All(root string, dirs map[string]string) (map[string][]string, error) {
	out := map[string][]string{}
	for dir, def := range dirs {
		found, err := Package(filepath.Join(root, dir), def)
		if err != nil {
			return nil, err
		}
		for a, fs := range found {
			for _, f := range fs {
				if !slices.Contains(out[a], f) {
					out[a] = append(out[a], f)
				}
			}
			slices.Sort(out[a])
		}
	}
	return out, nil
}

// Package scans the non-test Go files of dir. It returns each AWS action
// called there with the sorted features it serves; def is the feature of
// code no directive covers.
func Package(dir, def string) (map[string][]string, error) {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	g := graph{calls: map[string]map[string]bool{}, edges: map[string]map[string]bool{}, marks: map[string][]string{},
		decls: map[string]bool{}, fields: map[string]bool{}}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		ast.Inspect(f, func(n ast.Node) bool {
			if st, ok := n.(*ast.StructType); ok {
				for _, fl := range st.Fields.List {
					for _, name := range fl.Names {
						g.fields[name.Name] = true
					}
				}
			}
			return true
		})
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				g.decls[fd.Name.Name] = true
				if marks := directive(fd.Doc); len(marks) > 0 {
					g.marks[fd.Name.Name] = append(g.marks[fd.Name.Name], marks...)
				}
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("scan: no Go files in %s", dir)
	}
	for _, f := range files {
		services := sdkImports(f)
		for _, d := range f.Decls {
			node := "" // package-level declarations: the default feature
			var body ast.Node = d
			if fd, ok := d.(*ast.FuncDecl); ok {
				node = fd.Name.Name
			}
			g.visit(node, body, services)
		}
	}
	return g.features(def), nil
}

func directive(doc *ast.CommentGroup) []string {
	if doc == nil {
		return nil
	}
	var out []string
	for _, c := range doc.List {
		if rest, ok := strings.CutPrefix(c.Text, Directive); ok {
			out = append(out, strings.Fields(rest)...)
		}
	}
	return out
}

// sdkImports maps the file's local names of SDK service packages to the
// service's IAM prefix, and of their types packages to "types:"+prefix.
func sdkImports(f *ast.File) map[string]string {
	out := map[string]string{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		rest, ok := strings.CutPrefix(path, sdkServices)
		if !ok {
			continue
		}
		parts := strings.Split(rest, "/")
		local := parts[len(parts)-1]
		if imp.Name != nil {
			local = imp.Name.Name
		}
		switch {
		case len(parts) == 1:
			out[local] = parts[0]
		case len(parts) == 2 && parts[1] == "types":
			out[local] = "types:" + parts[0]
		}
	}
	return out
}

type graph struct {
	calls map[string]map[string]bool // function -> actions it calls itself
	edges map[string]map[string]bool // function -> functions it names
	marks map[string][]string        // function -> its directive's features
	decls map[string]bool            // the package's function and method names
	// fields are the package's struct field names: a selector of one of
	// those that is also a method's name is taken for the method only
	// where it is called.
	fields map[string]bool
}

func add(m map[string]map[string]bool, k, v string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][v] = true
}

func (g *graph) visit(node string, body ast.Node, services map[string]string) {
	if g.calls[node] == nil {
		g.calls[node] = map[string]bool{}
	}
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.KeyValueExpr:
			// A composite literal's field name is no reference.
			if _, ok := n.Key.(*ast.Ident); ok {
				ast.Inspect(n.Value, visit)
				return false
			}
		case *ast.InterfaceType:
			// An interface lists what may be called (the provider's
			// narrow SDK interfaces); only a use of an input type calls.
			return false
		case *ast.CallExpr:
			var name string
			switch fn := n.Fun.(type) {
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			case *ast.Ident:
				name = fn.Name
			}
			if g.decls[name] && name != node {
				add(g.edges, node, name)
			}
		case *ast.SelectorExpr:
			pkg, ok := n.X.(*ast.Ident)
			if !ok {
				break
			}
			svc, ok := services[pkg.Name]
			if !ok || strings.HasPrefix(svc, "types:") {
				break
			}
			op, ok := operation(n.Sel.Name)
			if !ok {
				break
			}
			action := svc + ":" + op
			if implied, ok := impliedActions[action]; ok {
				g.calls[node][implied] = true
			}
			if !notActions[action] {
				g.calls[node][action] = true
			}
		case *ast.CompositeLit:
			items := []*ast.CompositeLit{n}
			if arr, ok := n.Type.(*ast.ArrayType); ok && isTransactItem(arr.Elt, services) {
				// Elements of a []TransactWriteItem may elide their type.
				items = nil
				for _, el := range n.Elts {
					if lit, ok := el.(*ast.CompositeLit); ok && lit.Type == nil {
						items = append(items, lit)
					}
				}
			} else if !isTransactItem(n.Type, services) {
				break
			}
			for _, lit := range items {
				for _, el := range lit.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok {
						if key, ok := kv.Key.(*ast.Ident); ok && transactItemActions[key.Name] != "" {
							g.calls[node]["dynamodb:"+transactItemActions[key.Name]] = true
						}
					}
				}
			}
		case *ast.Ident:
			if g.decls[n.Name] && n.Name != node && !g.fields[n.Name] {
				add(g.edges, node, n.Name)
			}
		}
		return true
	}
	ast.Inspect(body, visit)
}

// isTransactItem reports whether a type expression is DynamoDB's
// types.TransactWriteItem.
func isTransactItem(typ ast.Expr, services map[string]string) bool {
	sel, ok := typ.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && services[pkg.Name] == "types:dynamodb" && sel.Sel.Name == "TransactWriteItem"
}

// operation is the operation whose input type or paginator name is.
func operation(name string) (string, bool) {
	if op, ok := strings.CutSuffix(name, "Input"); ok && op != "" {
		return op, true
	}
	if rest, ok := strings.CutPrefix(name, "New"); ok {
		if op, ok := strings.CutSuffix(rest, "Paginator"); ok && op != "" {
			return op, true
		}
	}
	return "", false
}

// features propagates each directive down the functions it reaches, and
// def from every function no directive covers.
func (g *graph) features(def string) map[string][]string {
	called := map[string]bool{}
	for _, callees := range g.edges {
		for c := range callees {
			called[c] = true
		}
	}
	feats := map[string]map[string]bool{}
	var work []string
	seed := func(fn string, fs ...string) {
		for _, f := range fs {
			if feats[fn] == nil {
				feats[fn] = map[string]bool{}
			}
			if !feats[fn][f] {
				feats[fn][f] = true
				work = append(work, fn)
			}
		}
	}
	for fn := range g.calls {
		switch {
		case len(g.marks[fn]) > 0:
			seed(fn, g.marks[fn]...)
		case !called[fn] || ast.IsExported(fn):
			// Called from other packages, or from nowhere.
			seed(fn, def)
		}
	}
	for len(work) > 0 {
		fn := work[len(work)-1]
		work = work[:len(work)-1]
		for callee := range g.edges[fn] {
			if len(g.marks[callee]) > 0 {
				continue
			}
			for f := range feats[fn] {
				seed(callee, f)
			}
		}
	}
	out := map[string][]string{}
	for fn, actions := range g.calls {
		fs := feats[fn]
		if len(fs) == 0 {
			// Reached only from a cycle that nothing enters: never
			// leave its calls out.
			fs = map[string]bool{def: true}
		}
		for a := range actions {
			for f := range fs {
				if !slices.Contains(out[a], f) {
					out[a] = append(out[a], f)
				}
			}
		}
	}
	for a := range out {
		slices.Sort(out[a])
	}
	return out
}
